"""The fingerprint of a data set: one pass over its training cases (nnU-Net's idea, our implementation on MONAI),
cached as JSON until the data change.

Per case: shape, spacing, orientation, the non-zero bounding box and the shape cropped to it, the voxel count of
each label value, and up to ``num_samples`` random foreground voxels per channel (nnU-Net: 10,000 with a fixed
seed). Per data set: per-channel foreground intensity statistics (mean, std, min, max, median, 0.5 / 99.5
percentiles), total class voxel counts, and the problems found (``{"severity", "path", "message"}``: cases that
cannot be read; with ``check=True`` the format's per-case integrity check too).

The cache lives in a cache folder (default ``<repo>/cache/fingerprints/``), never in the data set folder, under a
key hashed from the data set's files (relative paths, sizes, modification times), the fingerprint version and the
sampling settings: touching, adding or removing a file computes it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from data.errors import DatasetError
from data.problems import IntegrityReport

__all__ = [
    "DEFAULT_CACHE_DIR",
    "FINGERPRINT_VERSION",
    "compute_fingerprint",
    "dataset_files_key",
    "declared_labels",
    "fingerprint_case",
    "fingerprint_dataset",
    "fingerprint_hash",
    "intensity_statistics",
    "nonzero_bounding_box",
]

FINGERPRINT_VERSION = 1
DEFAULT_CACHE_DIR = Path(__file__).resolve().parents[1] / "cache" / "fingerprints"
NUM_FOREGROUND_SAMPLES = 10_000
SAMPLING_SEED = 1234

logger = logging.getLogger(__name__)


def _case_files(case: dict) -> list[str]:
    files: list[str] = []
    for key in ("image", "label"):
        value = case.get(key)
        if value is None:
            continue
        files += [str(value)] if isinstance(value, (str, os.PathLike)) else [str(v) for v in value]
    return files


def dataset_files_key(spec: Any, extra: Sequence[Any] = ()) -> str:
    """Hash (sha256 hex) of a data set's files: relative path, size and mtime of ``dataset.json`` (if any) and of
    every file of the training cases, with the fingerprint version and ``extra`` (the sampling settings)."""
    root = Path(spec.root)
    files = sorted({f for case in spec.training for f in _case_files(case)} | {str(root / "dataset.json")})
    entries = []
    for f in files:
        p = Path(f)
        if not p.exists():
            continue
        st = p.stat()
        try:
            rel = str(p.relative_to(root))
        except ValueError:
            rel = str(p)
        entries.append([rel, st.st_size, st.st_mtime_ns])
    payload = json.dumps([spec.format, FINGERPRINT_VERSION, list(extra), entries])
    return hashlib.sha256(payload.encode()).hexdigest()


def declared_labels(spec: Any) -> dict:
    """The fingerprint's label entries: what the data set (or a user's label grouping) declares, not measured
    (``class_voxels`` counts the stored values); a cached fingerprint takes them from the spec it is read for."""
    return {
        "labels": spec.labels,
        "label_values": spec.label_values,
        "regions_class_order": spec.regions_class_order,
    }


def fingerprint_hash(fingerprint: dict) -> str:
    """sha256 of the fingerprint's canonical JSON (sorted keys): the plan's ``fingerprint_hash``."""
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()


def nonzero_bounding_box(image: np.ndarray) -> list[list[int]]:
    """Bounding box ``[[lo, hi), ...]`` per spatial axis of the voxels where any channel is non-zero (holes filled,
    as nnU-Net's non-zero mask); the whole image when every voxel is zero.

    Args:
        image: (C, *spatial).
    """
    from scipy.ndimage import binary_fill_holes

    mask = binary_fill_holes(np.any(image != 0, axis=0))
    if not mask.any():
        return [[0, int(s)] for s in image.shape[1:]]
    box = []
    for axis in range(mask.ndim):
        hit = np.flatnonzero(np.any(mask, axis=tuple(a for a in range(mask.ndim) if a != axis)))
        box.append([int(hit[0]), int(hit[-1]) + 1])
    return box


def _axcodes(affine: np.ndarray, spatial_dims: int) -> str | None:
    if spatial_dims != 3:
        return None
    from nibabel.orientations import aff2axcodes

    return "".join(aff2axcodes(affine))


def fingerprint_case(
    image: Any, label: Any, spatial_dims: int, rng: np.random.Generator, num_samples: int = NUM_FOREGROUND_SAMPLES
) -> tuple[dict, list[np.ndarray]]:
    """Fingerprint of one loaded case.

    Args:
        image: (C, *spatial) array or MetaTensor (its ``affine`` gives spacing and orientation; identity if none).
        label: (1, *spatial) label values as on disk.
        spatial_dims: 2 or 3.
        rng: draws the foreground samples.
        num_samples: foreground voxels sampled per channel (all of them when fewer).

    Returns:
        The case's entry (shape, spacing, axcodes, nonzero_bbox, cropped_shape, class_voxels, foreground_voxels) and
        one 1D array of sampled foreground intensities per channel.
    """
    affine = np.asarray(getattr(image, "affine", np.eye(4)), dtype=np.float64)
    img = np.asarray(image.detach().cpu() if hasattr(image, "detach") else image, dtype=np.float32)
    lab = np.asarray(label.detach().cpu() if hasattr(label, "detach") else label)[0]
    box = nonzero_bounding_box(img)
    values, counts = np.unique(lab, return_counts=True)
    fg = lab > 0
    idx = np.flatnonzero(fg)
    if idx.size > num_samples:
        idx = rng.choice(idx, num_samples, replace=False)
    flat = img.reshape(img.shape[0], -1)
    samples = [flat[c, idx] for c in range(img.shape[0])]
    entry = {
        "shape": [int(s) for s in img.shape[1:]],
        "spacing": [round(float(v), 6) for v in np.linalg.norm(affine[:3, :3], axis=0)[:spatial_dims]],
        "axcodes": _axcodes(affine, spatial_dims),
        "nonzero_bbox": box,
        "cropped_shape": [hi - lo for lo, hi in box],
        "class_voxels": {str(int(v)): int(n) for v, n in zip(values, counts)},
        "foreground_voxels": int(fg.sum()),
    }
    return entry, samples


def intensity_statistics(samples: np.ndarray) -> dict:
    """mean, std, min, max, median and the 0.5 / 99.5 percentiles of ``samples`` (zeros when there is none)."""
    s = np.asarray(samples, dtype=np.float64)
    if s.size == 0:
        return {k: 0.0 for k in ("mean", "std", "min", "max", "median", "percentile_00_5", "percentile_99_5")} | {
            "num_samples": 0
        }
    return {
        "mean": float(s.mean()),
        "std": float(s.std()),
        "min": float(s.min()),
        "max": float(s.max()),
        "median": float(np.median(s)),
        "percentile_00_5": float(np.percentile(s, 0.5)),
        "percentile_99_5": float(np.percentile(s, 99.5)),
        "num_samples": int(s.size),
    }


def _dataset_error(exc: BaseException | None) -> DatasetError | None:
    """The :class:`DatasetError` in the cause chain of ``exc`` (None if there is none)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DatasetError):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _loader(spec: Any, load: Callable | None) -> Callable:
    if load is not None:
        return load
    from monai.transforms import Compose

    from formats import FORMATS

    return Compose(FORMATS.get(spec.format).load_transforms(spec))


def compute_fingerprint(
    spec: Any,
    load: Callable | None = None,
    num_samples: int = NUM_FOREGROUND_SAMPLES,
    seed: int = SAMPLING_SEED,
    check: bool = False,
    progress: bool = True,
) -> dict:
    """One pass over ``spec.training`` (tqdm progress bar): the fingerprint dict (see the module docstring).

    Args:
        spec: a :class:`~formats.DatasetSpec`.
        load: reads one case dict into ``image`` (C, *spatial) and ``label`` (1, *spatial); default: the format's
            ``load_transforms(spec)`` composed.
        num_samples: foreground voxels sampled per case and channel.
        seed: seed of the sampling (case ``i`` draws from ``default_rng([seed, i])``).
        check: also run the format's per-case integrity check; its findings go to ``problems``.
        progress: show the progress bar.

    Raises:
        DatasetError: no training case could be read (the message lists why, per file).
    """
    from tqdm.auto import tqdm

    read = _loader(spec, load)
    report = IntegrityReport(spec.format, spec.root)
    report.num_cases = len(spec.training)
    fmt = None
    if check:
        from formats import FORMATS

        fmt = FORMATS.get(spec.format)
    cases: list[dict] = []
    samples: list[list[np.ndarray]] = [[] for _ in spec.channel_names]
    for i, case in enumerate(tqdm(spec.training, desc=f"fingerprint {spec.name}", unit="case", disable=not progress)):
        if fmt is not None:
            fmt.check_case(case, spec, report)
        try:
            data = read(dict(case))
        except Exception as exc:  # MONAI's Compose wraps a reader's DatasetError in a RuntimeError
            cause = _dataset_error(exc)
            if cause is None:
                raise
            files = _case_files(case)
            path = next((f for f in files if str(cause).startswith(f"{f}: ")), files[0])
            if not any(f.path == path for f in report.errors):  # the check may have named it already
                report.record(path, cause)
            continue
        entry, case_samples = fingerprint_case(
            data["image"], data["label"], spec.spatial_dims, np.random.default_rng([seed, i]), num_samples
        )
        if len(case_samples) != len(samples):
            report.error(_case_files(case)[0], f"{len(case_samples)} channel(s), dataset declares {len(samples)}")
            continue
        cases.append({"case_id": str(case.get("case_id", i)), **entry})
        for c, s in enumerate(case_samples):
            samples[c].append(s)
    if not cases:
        raise DatasetError(report.format() + "\nno training case could be read; fix the files above.")
    class_voxels: dict[str, int] = {}
    for c in cases:
        for v, n in c["class_voxels"].items():
            class_voxels[v] = class_voxels.get(v, 0) + n
    intensity = [
        {"channel": name, **intensity_statistics(np.concatenate(s) if s else np.empty(0))}
        for name, s in zip(spec.channel_names, samples)
    ]
    return {
        "version": FINGERPRINT_VERSION,
        "format": spec.format,
        "dataset": spec.name,
        "root": str(spec.root),
        "spatial_dims": int(spec.spatial_dims),
        "channel_names": list(spec.channel_names),
        **declared_labels(spec),
        "num_cases": len(cases),
        "num_samples_per_case": int(num_samples),
        "seed": int(seed),
        "cases": sorted(cases, key=lambda c: c["case_id"]),
        "intensity": intensity,
        "class_voxels": dict(sorted(class_voxels.items(), key=lambda kv: int(kv[0]))),
        "problems": [{"severity": f.severity, "path": f.path, "message": f.message} for f in report],
    }


def fingerprint_dataset(
    spec: Any,
    cache_dir: str | os.PathLike | None = None,
    refresh: bool = False,
    load: Callable | None = None,
    num_samples: int = NUM_FOREGROUND_SAMPLES,
    seed: int = SAMPLING_SEED,
    check: bool = False,
    progress: bool = True,
) -> dict:
    """The fingerprint of ``spec``, from the cache when the data set's files have not changed since.

    Args:
        spec: a :class:`~formats.DatasetSpec`.
        cache_dir: folder of the cached JSON files (default :data:`DEFAULT_CACHE_DIR`); must not be inside the data
            set folder. ``None`` or ``""`` -> the default.
        refresh: compute again even when cached.
        load, num_samples, seed, check, progress: as :func:`compute_fingerprint`.

    Returns:
        The fingerprint dict; ``fingerprint["files_key"]`` is the cache key.

    Raises:
        DatasetError: ``cache_dir`` is inside the data set folder (nothing is ever written there).
    """
    folder = Path(cache_dir or DEFAULT_CACHE_DIR).expanduser().absolute()
    root = Path(spec.root).absolute()
    if folder == root or root in folder.parents:
        raise DatasetError(
            f"{folder}: the fingerprint cache may not be inside the data set folder {root}; nothing is written "
            "into a data set - choose another cache folder."
        )
    key = dataset_files_key(spec, extra=[num_samples, seed, bool(check)])
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in spec.name) or "dataset"
    path = folder / f"{safe}_{key[:16]}.json"
    if path.is_file() and not refresh:
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            if cached.get("files_key") == key and cached.get("version") == FINGERPRINT_VERSION:
                logger.info("fingerprint of %s from the cache %s", spec.name, path)
                return {**cached, **declared_labels(spec)}  # a label grouping changes them, not the files
        except (OSError, json.JSONDecodeError):
            logger.warning("fingerprint cache %s is unreadable; computing it again", path)
    fingerprint = compute_fingerprint(spec, load, num_samples, seed, check, progress)
    fingerprint["files_key"] = key
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(fingerprint, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    logger.info("fingerprint of %s written to %s", spec.name, path)
    return fingerprint
