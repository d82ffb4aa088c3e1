"""Synthetic twins of nnU-Net v2 raw data sets, written in the real layout (``DatasetXXX_Name/{imagesTr,
labelsTr,imagesTs}``, ``{case}_{XXXX}{ending}``, ``dataset.json``), deterministic from the seed.

Four kinds, each a cartoon a small network learns in a few epochs (every class is a shape of its own intensity,
with noise):

- ``"mri"``: one MRI channel ``T2`` of arbitrary units (a random scale per case), three tissue classes (fat,
  muscle, fluid) inside a body that is exactly 0 outside (so cropping to non-zero pays), anisotropic spacing
  0.9 x 0.9 x 3 mm;
- ``"ct"``: one ``CT`` channel in Hounsfield units (air -1000, soft tissue ~40, a fat rim ~-100) with one small
  enhancing lesion (~130 HU) of a few voxels, spacing 0.8 x 0.8 x 2 mm;
- ``"png2d"``: two 2D channels as 8-bit PNG (``rescale_to_0_1`` a membrane stain, ``zscore`` a nucleus stain),
  cells and nuclei on a noisy background;
- ``"regions"``: BraTS-style four MRI channels (FLAIR, T1, T1ce, T2) with label values 1 edema, 2 non-enhancing
  core, 3 enhancing tumour and nnU-Net's region labels whole tumour [1, 2, 3], tumour core [2, 3], enhancing
  tumour [3] with ``regions_class_order`` [1, 2, 3].
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SYNTHETIC_KINDS", "generate_nnunet_v2"]

SYNTHETIC_KINDS = {
    # kind: (dataset folder, channel names, labels, default shape, spacing, file ending)
    "mri": ("Dataset901_SynthMRI", ["T2"], {"background": 0, "fat": 1, "muscle": 2, "fluid": 3},
            (32, 32, 12), (0.9, 0.9, 3.0), ".nii.gz"),
    "ct": ("Dataset902_SynthCT", ["CT"], {"background": 0, "lesion": 1}, (32, 32, 12), (0.8, 0.8, 2.0), ".nii.gz"),
    "png2d": ("Dataset903_Synth2DPNG", ["rescale_to_0_1", "zscore"], {"background": 0, "cell": 1, "nucleus": 2},
              (48, 48), (1.0, 1.0), ".png"),
    "regions": ("Dataset904_SynthRegions", ["FLAIR", "T1", "T1ce", "T2"],
                {"background": 0, "whole tumor": [1, 2, 3], "tumor core": [2, 3], "enhancing tumor": [3]},
                (32, 32, 12), (1.0, 1.0, 1.0), ".nii.gz"),
}


def _grid(shape: tuple[int, ...], spacing: tuple[float, ...]) -> list[np.ndarray]:
    return np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing)], indexing="ij")


def _ellipsoid(grid: list[np.ndarray], center: np.ndarray, radii: np.ndarray) -> np.ndarray:
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, center, radii)) <= 1.0


def _mri_case(rng: np.random.Generator, shape: tuple[int, ...], spacing: tuple[float, ...]):
    grid = _grid(shape, spacing)
    extent = np.array(shape) * np.array(spacing)
    body_c = extent / 2 + rng.uniform(-0.05, 0.05, 3) * extent
    body_r = extent * np.array([rng.uniform(0.36, 0.42), rng.uniform(0.36, 0.42), 0.45])
    body = _ellipsoid(grid, body_c, body_r)
    label = np.zeros(shape, np.uint8)
    image = np.where(body, 1.0, 0.0)
    for cls, contrast in ((1, 1.8), (2, 0.45), (3, 2.8)):  # fat, muscle, fluid on T2
        for _ in range(10):
            radius = body_r * rng.uniform(0.35, 0.5, 3)
            radius[2] = max(radius[2], 6.0)
            center = body_c + rng.uniform(-0.5, 0.5, 3) * body_r
            blob = _ellipsoid(grid, center, radius) & body & (label == 0)
            if blob.sum() >= 6:
                break
        label[blob] = cls
        image[blob] = contrast
    scale = rng.uniform(200, 800)  # MRI units are arbitrary per scan: per-case z-score handles it
    image = np.where(body, image * scale + rng.normal(0, 0.12 * scale, shape), 0.0)
    return [image.astype(np.float32)], label


def _ct_case(rng: np.random.Generator, shape: tuple[int, ...], spacing: tuple[float, ...]):
    grid = _grid(shape, spacing)
    extent = np.array(shape) * np.array(spacing)
    body_c = extent / 2 + rng.uniform(-0.04, 0.04, 3) * extent
    body_r = extent * np.array([0.45, 0.4, 0.7])
    body = _ellipsoid(grid, body_c, body_r)
    inner = _ellipsoid(grid, body_c, body_r - 2.0)
    hu = np.full(shape, -1000.0)
    hu[body] = -100.0  # subcutaneous fat
    hu[inner] = 40.0  # soft tissue
    radius = rng.uniform(2.5, 4.0)
    center = body_c + rng.uniform(-0.4, 0.4, 3) * (body_r - 2.0 - radius) * np.array([1, 1, 0.5])
    lesion = _ellipsoid(grid, center, np.array([radius, radius, max(radius, 1.5 * spacing[2])])) & inner
    hu[lesion] = 130.0
    hu = hu + rng.normal(0, 15, shape)
    return [np.clip(np.round(hu), -1024, 3071).astype(np.int16)], lesion.astype(np.uint8)


def _png2d_case(rng: np.random.Generator, shape: tuple[int, ...], spacing: tuple[float, ...]):
    grid = _grid(shape, spacing)
    label = np.zeros(shape, np.uint8)
    for _ in range(int(rng.integers(2, 5))):
        center = rng.uniform(8, np.array(shape) - 8)
        r = rng.uniform(5, 9)
        label[_ellipsoid(grid, center, np.array([r, r * rng.uniform(0.7, 1.0)])) & (label == 0)] = 1
        label[_ellipsoid(grid, center, np.array([r * 0.45, r * 0.45]))] = 2
    membrane = np.choose(label, [30.0, 170.0, 120.0]) + rng.normal(0, 18, shape)
    nuclei = np.choose(label, [20.0, 60.0, 210.0]) + rng.normal(0, 18, shape)
    return [np.clip(c, 0, 255).astype(np.uint8) for c in (membrane, nuclei)], label


# mean signal per tissue (rows: outside, brain, edema, non-enhancing core, enhancing) per channel
_BRATS_CONTRAST = np.array(
    [[0, 0, 0, 0], [0.7, 0.8, 0.8, 0.6], [1.4, 0.6, 0.6, 1.3], [0.6, 0.35, 0.4, 1.2], [1.0, 0.6, 1.6, 0.9]]
)


def _regions_case(rng: np.random.Generator, shape: tuple[int, ...], spacing: tuple[float, ...]):
    grid = _grid(shape, spacing)
    extent = np.array(shape) * np.array(spacing)
    brain_c = extent / 2
    brain_r = extent * np.array([0.42, 0.45, 0.45])
    brain = _ellipsoid(grid, brain_c, brain_r)
    tumour_c = brain_c + rng.uniform(-0.25, 0.25, 3) * brain_r
    r = rng.uniform(5.0, 7.0)
    edema = _ellipsoid(grid, tumour_c, np.array([r, r, r * 0.8])) & brain
    enhancing = _ellipsoid(grid, tumour_c, np.array([r, r, r * 0.8]) * 0.6) & brain
    core = _ellipsoid(grid, tumour_c, np.array([r, r, r * 0.8]) * 0.35) & brain
    tissue = np.where(core, 3, np.where(enhancing, 4, np.where(edema, 2, brain.astype(np.int64))))
    label = np.array([0, 0, 1, 2, 3], np.uint8)[tissue]
    images = []
    for c in range(4):
        signal = _BRATS_CONTRAST[tissue, c] * rng.uniform(300, 600)
        images.append(np.where(brain, signal + rng.normal(0, 0.08 * signal.max(), shape), 0).astype(np.float32))
    return images, label


_MAKERS = {"mri": _mri_case, "ct": _ct_case, "png2d": _png2d_case, "regions": _regions_case}


def _save(path: Path, array: np.ndarray, spacing: tuple[float, ...]) -> None:
    if path.name.endswith(".png"):
        from PIL import Image

        Image.fromarray(array).save(path)
        return
    import nibabel as nib

    img = nib.Nifti1Image(array, np.diag([*spacing, 1.0]))
    img.header.set_xyzt_units("mm")
    nib.save(img, str(path))


def generate_nnunet_v2(
    out_dir: str | os.PathLike,
    kind: str = "mri",
    num_training: int = 10,
    num_test: int = 2,
    spatial_size: tuple[int, ...] | None = None,
    seed: int = 0,
    spacing: tuple[float, ...] | None = None,
) -> Path:
    """Write one synthetic nnU-Net v2 raw data set into ``out_dir`` (see the module docstring for the kinds).

    Args:
        out_dir: parent folder; the data set is ``out_dir/Dataset90N_Synth...`` (created, must not exist yet or be
            empty).
        kind: ``"mri"``, ``"ct"``, ``"png2d"`` or ``"regions"``.
        num_training: labelled cases (``imagesTr`` + ``labelsTr``).
        num_test: unlabelled cases (``imagesTs``).
        spatial_size: voxels per axis (3 for the 3D kinds, 2 for ``png2d``); default 32 x 32 x 12 or 48 x 48.
        seed: the same seed writes the same files.
        spacing: voxel size per axis (mm) instead of the kind's (e.g. isotropic 1 mm for a 3D benchmark).

    Returns:
        The data set folder.

    Raises:
        ValueError: unknown ``kind`` or a ``spatial_size`` of the wrong length; the message lists what is valid.
    """
    if kind not in SYNTHETIC_KINDS:
        raise ValueError(f"unknown synthetic nnU-Net kind {kind!r}; valid: {sorted(SYNTHETIC_KINDS)}.")
    folder_name, channels, labels, default_shape, kind_spacing, ending = SYNTHETIC_KINDS[kind]
    spacing = tuple(float(s) for s in spacing) if spacing is not None else kind_spacing
    shape = tuple(int(s) for s in (spatial_size or default_shape))
    if len(shape) != len(default_shape):
        raise ValueError(f"spatial_size of kind {kind!r} needs {len(default_shape)} entries, got {shape}.")
    root = Path(out_dir) / folder_name
    for sub in ("imagesTr", "labelsTr", "imagesTs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    prefix = folder_name.split("_", 1)[1].lower()
    for i in range(num_training + num_test):
        rng = np.random.default_rng([seed, i])
        images, label = _MAKERS[kind](rng, shape, spacing)
        case = f"{prefix}_{i:03d}"
        sub = "imagesTr" if i < num_training else "imagesTs"
        for c, image in enumerate(images):
            _save(root / sub / f"{case}_{c:04d}{ending}", image, spacing)
        if i < num_training:
            _save(root / "labelsTr" / f"{case}{ending}", label, spacing)
    meta: dict[str, Any] = {
        "name": folder_name.split("_", 1)[1],
        "description": f"synthetic twin ({kind}) written by formats.nnunet_v2.synthetic, seed {seed}",
        "channel_names": {str(c): n for c, n in enumerate(channels)},
        "labels": labels,
        "numTraining": num_training,
        "file_ending": ending,
    }
    if kind == "regions":
        meta["regions_class_order"] = [1, 2, 3]
    (root / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return root
