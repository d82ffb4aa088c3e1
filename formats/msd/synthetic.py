"""Synthetic stand-in for the Medical Segmentation Decathlon Task01_BrainTumour, written in its on-disk format.

The real data set (Simpson et al., "A large annotated medical image dataset for the development and evaluation
of segmentation algorithms", arXiv:1902.09063) is a folder ``Task01_BrainTumour/`` holding ``dataset.json``,
``imagesTr/BRATS_NNN.nii.gz`` (4D float32, X x Y x Z x 4 modalities: FLAIR, T1w, t1gd, T2w), ``labelsTr/`` (3D
uint8: 0 background, 1 edema, 2 non-enhancing tumour, 3 enhancing tumour) and ``imagesTs/``. This module writes
the same layout with skull-stripped brain-like volumes, so every pipeline in this repository runs unchanged on
either. The content is a cartoon, not a brain: an irregular ellipsoid with CSF, grey and white matter, and one
tumour (non-enhancing core, enhancing rim, edema shell) whose contrast per modality follows the usual MR
appearance (edema bright in FLAIR and T2, enhancing rim bright in T1 after gadolinium, CSF dark in FLAIR and
bright in T2), with a smooth multiplicative bias field and Rician noise. Everything is vectorised numpy and
deterministic from the seed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import nibabel as nib
import numpy as np
from scipy import ndimage

__all__ = [
    "MSD_TASK01_LABELS",
    "MSD_TASK01_MODALITIES",
    "SyntheticCase",
    "generate_msd_task01",
    "msd_task01_affine",
    "save_nifti",
    "synthesize_brain_tumour_case",
]

MSD_TASK01_MODALITIES = {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"}
MSD_TASK01_LABELS = {"0": "background", "1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"}
# the real release numbers its 484 training cases BRATS_001..BRATS_484 and its test cases from BRATS_485 on
_FIRST_TEST_CASE = 485

# internal tissue classes; the last three are the MSD labels 1, 2, 3
_BACKGROUND, _CSF, _GREY, _WHITE, _EDEMA, _CORE, _RIM = range(7)
_TISSUE_TO_LABEL = np.array([0, 0, 0, 0, 1, 2, 3], dtype=np.uint8)
# mean signal per tissue class (rows, in the order above) and modality (columns: FLAIR, T1w, t1gd, T2w)
_CONTRAST = np.array(
    [
        [0.00, 0.00, 0.00, 0.00],  # background (skull-stripped: exactly 0)
        [0.20, 0.25, 0.28, 1.30],  # CSF: suppressed in FLAIR, bright in T2
        [0.75, 0.60, 0.62, 0.80],  # grey matter
        [0.60, 0.85, 0.86, 0.55],  # white matter
        [1.25, 0.50, 0.52, 1.15],  # edema: bright in FLAIR and T2
        [0.55, 0.30, 0.33, 1.25],  # necrotic / non-enhancing core: dark in T1, bright in T2
        [0.95, 0.55, 1.45, 0.85],  # enhancing rim: bright in t1gd only
    ],
    dtype=np.float32,
)


class SyntheticCase(NamedTuple):
    """One synthetic case: ``image`` float32 (X, Y, Z, 4), ``label`` uint8 (X, Y, Z), ``brain`` bool (X, Y, Z)."""

    image: np.ndarray
    label: np.ndarray
    brain: np.ndarray


def msd_task01_affine(spatial_size: Sequence[int], spacing: Sequence[float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """Voxel-to-world (RAS) affine of the synthetic volumes.

    The voxel axes point to patient Left, Posterior and Superior (``nib.aff2axcodes`` gives ``("L", "P", "S")``,
    the orientation of images converted from DICOM by ITK tools), with the given spacing in mm, and the origin
    puts the volume centre a little off the world origin, as scanner coordinates are. A non-identity affine lets
    tests see whether a pipeline carries the geometry through.

    Args:
        spatial_size: (X, Y, Z) voxels.
        spacing: voxel size in mm along X, Y, Z. Defaults to 1 mm isotropic, as in MSD Task01.

    Returns:
        A float64 (4, 4) affine.
    """
    directions = np.diag([-1.0, -1.0, 1.0]) * np.asarray(spacing, dtype=np.float64)
    centre = (np.asarray(spatial_size, dtype=np.float64) - 1.0) / 2.0
    affine = np.eye(4)
    affine[:3, :3] = directions
    affine[:3, 3] = np.array([2.0, -18.0, 12.0]) - directions @ centre
    return affine


def _smooth_field(
    rng: np.random.Generator, shape: Sequence[int], cycles: tuple[float, float], num_waves: int = 5
) -> np.ndarray:
    """Smooth random field in [-1, 1]: a sum of ``num_waves`` plane waves in random directions.

    ``cycles`` bounds the number of periods over the largest side of the volume. Each wave is evaluated as
    cos(a(x, y) + c(z)) = cos a cos c - sin a sin c, so the work per wave is two full-volume products (float32).
    """
    norm = float(max(shape))
    x, y, z = (np.arange(n, dtype=np.float32) / norm for n in shape)
    field = np.zeros(tuple(shape), dtype=np.float32)
    for _ in range(num_waves):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction) + 1e-12
        k = (2.0 * math.pi * rng.uniform(*cycles) * direction).astype(np.float32)
        phase = np.float32(rng.uniform(0.0, 2.0 * math.pi))
        in_plane = k[0] * x[:, None] + k[1] * y[None, :] + phase
        through = k[2] * z
        field += np.cos(in_plane)[:, :, None] * np.cos(through)
        field -= np.sin(in_plane)[:, :, None] * np.sin(through)
    field /= max(float(np.abs(field).max()), 1e-6)
    return field


def _ellipsoid(coords: tuple[np.ndarray, ...], centre: Sequence[float], semi_axes: Sequence[float]) -> np.ndarray:
    """Squared normalised radius ((u - c_u) / r_u)^2 + ... over broadcastable coordinate arrays."""
    (u, v, w) = coords
    (cu, cv, cw), (ru, rv, rw) = (float(c) for c in centre), (float(r) for r in semi_axes)
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 + ((w - cw) / rw) ** 2


def _tumour_tissue(
    rng: np.random.Generator, shape: Sequence[int], brain_centre: np.ndarray, brain_axes: np.ndarray, brain: np.ndarray
) -> np.ndarray:
    """Tissue class map of one tumour (0 outside it, else ``_EDEMA``, ``_CORE`` or ``_RIM``), inside ``brain``.

    The whole tumour has an in-plane radius of 30-60 % of the brain's semi-axis (15-30 % of its extent); the
    centre lies in the inner half of the brain. Layer thresholds keep every layer at least ~1.5 voxels thick, so
    small volumes still show all three labels; a draw that loses one (clipped by the brain) is drawn again.
    """
    x, y, z = (np.arange(n, dtype=np.float32) for n in shape)
    x, y, z = x[:, None, None], y[None, :, None], z[None, None, :]
    edema_warp = _smooth_field(rng, shape, cycles=(3.0, 7.0), num_waves=6)
    core_warp = _smooth_field(rng, shape, cycles=(2.0, 5.0), num_waves=5)
    for _ in range(20):
        fraction = rng.uniform(0.30, 0.60)
        radii = np.array(
            [
                fraction * brain_axes[0] * rng.uniform(0.85, 1.15),
                fraction * brain_axes[1] * rng.uniform(0.85, 1.15),
                fraction * brain_axes[2] * rng.uniform(0.85, 1.20),
            ]
        )
        radii = np.maximum(radii, 1.0)
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction) + 1e-12
        offset = direction * rng.uniform(0.0, 0.45) * np.array([1.0, 1.0, 0.7])
        centre = np.round(brain_centre + offset * brain_axes)  # on a voxel, so small volumes keep a core
        step = 1.5 / float(radii[:2].min())  # 1.5 in-plane voxels in normalised units
        t_core = max(rng.uniform(0.40, 0.55), step)
        t_rim = t_core + max(rng.uniform(0.15, 0.25), step)
        t_edema = max(1.0, t_rim + step)
        q = np.sqrt(_ellipsoid((x, y, z), centre, radii))
        tissue = np.zeros(tuple(shape), dtype=np.uint8)
        tissue[(q * (1.0 + 0.30 * edema_warp) < t_edema) & brain] = _EDEMA
        # the enhancing rim and its core sit a little off the centre of the edema
        core_centre = centre + rng.uniform(-0.12, 0.12, size=3) * radii
        inner = np.sqrt(_ellipsoid((x, y, z), core_centre, radii))
        inner *= 1.0 + 0.15 * core_warp
        tissue[inner < t_rim] = _RIM
        tissue[inner < t_core] = _CORE
        tissue[~brain] = 0
        if all(np.any(tissue == t) for t in (_EDEMA, _CORE, _RIM)):
            return tissue
    raise RuntimeError(f"could not place a tumour with all three labels in a volume of {tuple(shape)} voxels")


def synthesize_brain_tumour_case(
    spatial_size: Sequence[int] = (64, 64, 32), seed: int | Sequence[int] = 0
) -> SyntheticCase:
    """Make one brain-tumour case in memory (what :func:`generate_msd_task01` writes for each case).

    Brain: an ellipsoid (random semi-axes of 32-45 % of the volume sides, slightly shifted and rotated in-plane,
    with a smoothly warped surface) holding white matter, a cortical grey-matter band with a wavy inner border,
    deep grey nuclei, sulcal CSF and two lateral ventricles. Tumour: an irregular ellipsoid centred in the inner
    half of the brain, whole-tumour radius 30-60 % of the brain's semi-axis (15-30 % of its extent), made of a
    non-enhancing core (2), an enhancing rim (3) and an edema shell (1). Intensities come from a per-tissue,
    per-modality table with ±8 % per-case jitter, ±4 % smooth texture, a 0.6-voxel blur (partial volume), a
    multiplicative bias field (about ±15 %), a per-modality scale in scanner-like units and Rician noise (sigma
    2.5-4.5 % of that scale, 3-8 % of the white-matter signal). Outside the brain every channel is exactly 0.

    Args:
        spatial_size: (X, Y, Z) voxels, e.g. (64, 64, 32) for demos or (240, 240, 155) as in MSD Task01.
        seed: seed (or sequence of ints, e.g. ``(seed, case_number)``) of ``numpy.random.default_rng``; the same
            seed gives identical arrays.

    Returns:
        A :class:`SyntheticCase` with ``image`` float32 (X, Y, Z, 4) in the MSD channel order (FLAIR, T1w, t1gd,
        T2w), ``label`` uint8 (X, Y, Z) with values in {0, 1, 2, 3} (all of 1, 2, 3 present) and ``brain`` bool.
    """
    shape = tuple(int(s) for s in spatial_size)
    if len(shape) != 3 or min(shape) < 4:
        raise ValueError(f"spatial_size must be three sizes >= 4, got {tuple(spatial_size)}.")
    rng = np.random.default_rng(seed)
    size = np.asarray(shape, dtype=np.float64)

    # brain ellipsoid, in coordinates rotated in-plane about its centre
    brain_axes = size * rng.uniform([0.32, 0.38, 0.36], [0.40, 0.45, 0.44])
    brain_centre = (size - 1.0) / 2.0 + size * rng.uniform(-0.03, 0.03, size=3)
    angle = rng.uniform(-0.17, 0.17)  # about ±10 degrees
    dx, dy, w = (np.arange(n, dtype=np.float32) - np.float32(c) for n, c in zip(shape, brain_centre))
    dx, dy, w = dx[:, None, None], dy[None, :, None], w[None, None, :]
    u = math.cos(angle) * dx + math.sin(angle) * dy  # (X, Y, 1): left-right in the head
    v = -math.sin(angle) * dx + math.cos(angle) * dy  # (X, Y, 1): anterior-posterior
    coords = (u, v, w)
    rho = np.sqrt(_ellipsoid(coords, (0.0, 0.0, 0.0), brain_axes))
    rho *= 1.0 + 0.04 * _smooth_field(rng, shape, cycles=(1.0, 3.0))
    brain = rho < 1.0

    tissue = np.where(brain, np.uint8(_WHITE), np.uint8(_BACKGROUND))
    gyri = _smooth_field(rng, shape, cycles=(5.0, 9.0), num_waves=8)
    tissue[brain & (rho > 0.84 + 0.05 * gyri)] = _GREY
    tissue[brain & (rho > 0.95 + 0.02 * gyri)] = _CSF
    a, b, c = brain_axes
    for side in (-1.0, 1.0):
        scale = rng.uniform(0.85, 1.15)
        nucleus_axes = scale * np.array([0.13 * a, 0.16 * b, 0.14 * c])
        nucleus = _ellipsoid(coords, (side * 0.22 * a, -0.08 * b, -0.05 * c), nucleus_axes)
        tissue[brain & (nucleus < 1.0)] = _GREY
        ventricle_axes = scale * np.array([0.07 * a, 0.35 * b, 0.15 * c])
        ventricle = _ellipsoid(coords, (side * 0.10 * a, 0.03 * b, 0.12 * c), ventricle_axes)
        tissue[brain & (ventricle < 1.0)] = _CSF
    tumour = _tumour_tissue(rng, shape, brain_centre, brain_axes, brain)
    tissue = np.where(tumour > 0, tumour, tissue)
    del rho, tumour, gyri

    contrast = _CONTRAST * rng.uniform(0.92, 1.08, size=_CONTRAST.shape).astype(np.float32)
    image = np.zeros(shape + (4,), dtype=np.float32)
    num_brain = int(brain.sum())
    for m in range(4):
        texture = _smooth_field(rng, shape, cycles=(3.0, 8.0))
        bias = _smooth_field(rng, shape, cycles=(0.3, 1.2), num_waves=3)
        scale = np.float32(rng.uniform(400.0, 1200.0))
        sigma = np.float32(rng.uniform(0.025, 0.045) * scale)
        signal = np.take(contrast[:, m], tissue)
        signal *= 1.0 + 0.04 * texture
        signal = ndimage.gaussian_filter(signal, sigma=0.6, mode="constant")
        signal *= np.exp(0.15 * bias) * scale
        inside = signal[brain]
        noise = rng.standard_normal((2, num_brain), dtype=np.float32) * sigma
        channel = image[..., m]
        channel[brain] = np.sqrt((inside + noise[0]) ** 2 + noise[1] ** 2)  # Rician magnitude, > 0 in the brain
    label = _TISSUE_TO_LABEL[tissue]
    return SyntheticCase(image=image, label=label, brain=brain)


def save_nifti(array: np.ndarray, affine: np.ndarray, path: Path) -> None:
    """Write ``array`` with ``affine`` as NIfTI-1 (qform and sform both set, code 1 = scanner), units mm/s."""
    img = nib.Nifti1Image(array, affine)
    img.header.set_data_dtype(array.dtype)
    img.header.set_xyzt_units("mm", "sec")
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    nib.save(img, str(path))


def generate_msd_task01(
    output_dir: str | Path,
    num_training: int = 24,
    num_test: int = 4,
    spatial_size: Sequence[int] = (64, 64, 32),
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a synthetic data set in the on-disk format of MSD Task01_BrainTumour.

    Layout of ``output_dir`` (the folder that plays ``Task01_BrainTumour/``): ``dataset.json`` with the MSD keys
    (``training`` entries ``{"image": "./imagesTr/BRATS_001.nii.gz", "label": "./labelsTr/BRATS_001.nii.gz"}``,
    ``test`` entries plain strings ``"./imagesTs/BRATS_485.nii.gz"``), ``imagesTr/`` 4D float32 (X, Y, Z, 4),
    ``labelsTr/`` uint8 (X, Y, Z), ``imagesTs/``; all with the affine of :func:`msd_task01_affine`. Training cases
    are BRATS_001 on, test cases BRATS_485 on (or after the last training case), as in the real release.

    Case ``BRATS_NNN`` is :func:`synthesize_brain_tumour_case` with seed ``(seed, NNN)``, so a case does not
    depend on how many others are written. ``dataset.json`` is written last: a folder without it is incomplete.
    Files of an earlier, larger data set in the same folder are left in place but are not listed.

    Args:
        output_dir: folder to write; created if needed.
        num_training: number of labelled cases (``imagesTr``/``labelsTr``).
        num_test: number of unlabelled cases (``imagesTs``).
        spatial_size: (X, Y, Z) voxels per case; 240 x 240 x 155 is the real size.
        seed: base seed; the same seed writes identical voxel arrays.
        overwrite: write even if ``output_dir/dataset.json`` exists.

    Returns:
        ``output_dir`` as a ``Path``.

    Raises:
        FileExistsError: ``dataset.json`` exists and ``overwrite`` is False.
        ValueError: negative case counts or fewer than 4 voxels along a side.
    """
    root = Path(output_dir)
    if num_training < 0 or num_test < 0:
        raise ValueError(f"num_training and num_test must be >= 0, got {num_training} and {num_test}.")
    if (root / "dataset.json").exists() and not overwrite:
        raise FileExistsError(f"{root / 'dataset.json'} exists; pass overwrite=True to write the data set again.")
    shape = tuple(int(s) for s in spatial_size)
    affine = msd_task01_affine(shape)
    for sub in ("imagesTr", "labelsTr", "imagesTs"):
        (root / sub).mkdir(parents=True, exist_ok=True)

    training = []
    for number in range(1, num_training + 1):
        name = f"BRATS_{number:03d}.nii.gz"
        case = synthesize_brain_tumour_case(shape, seed=(seed, number))
        save_nifti(case.image, affine, root / "imagesTr" / name)
        save_nifti(case.label, affine, root / "labelsTr" / name)
        training.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    test = []
    first_test = max(_FIRST_TEST_CASE, num_training + 1)
    for number in range(first_test, first_test + num_test):
        name = f"BRATS_{number:03d}.nii.gz"
        save_nifti(synthesize_brain_tumour_case(shape, seed=(seed, number)).image, affine, root / "imagesTs" / name)
        test.append(f"./imagesTs/{name}")

    description = {
        "name": "BRATS",
        "description": (
            "SYNTHETIC stand-in for MSD Task01 (gliomas segmentation tumour and oedema in brain images), "
            f"made by formats.msd.synthetic with seed {seed}, {shape[0]}x{shape[1]}x{shape[2]} voxels"
        ),
        "reference": "https://www.med.upenn.edu/sbia/brats2017.html (format of); arXiv:1902.09063",
        "licence": "CC0 1.0 (synthetic data; the real Task01 is CC-BY-SA 4.0)",
        "release": "synthetic, format of 2.0 04/05/2018",
        "tensorImageSize": "4D",
        "modality": dict(MSD_TASK01_MODALITIES),
        "labels": dict(MSD_TASK01_LABELS),
        "numTraining": num_training,
        "numTest": num_test,
        "training": training,
        "test": test,
    }
    (root / "dataset.json").write_text(json.dumps(description, indent=4) + "\n", encoding="utf-8")
    return root
