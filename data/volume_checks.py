"""Checks of single decoded files shared by the format checks: read without a stack trace, finite values, label
values, geometry, duplicates. Each records its findings in an :class:`~data.problems.IntegrityReport`."""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import nibabel as nib
import numpy as np

from data.headers import NIFTI_SUFFIXES, file_problem, image_suffix
from data.problems import IntegrityReport

__all__ = [
    "DuplicateFinder",
    "Volume",
    "array_digest",
    "check_finite",
    "check_label_values",
    "compare_geometry",
    "read_volume",
]

_SHOWN_VALUES = 10


class Volume(NamedTuple):
    """A decoded file: the array as MONAI's ``LoadImage`` gives it (NIfTI ``(X, Y, Z[, C])``; Pillow
    ``(width, height[, C])``) and its 4 x 4 affine (voxel -> world mm; identity for pictures)."""

    array: np.ndarray
    affine: np.ndarray


def _nifti_from_bytes(raw: bytes) -> nib.Nifti1Image:
    """A single-file NIfTI-1 or NIfTI-2 image from its uncompressed bytes (``sizeof_hdr`` 348 or 540)."""
    sizes = {int.from_bytes(raw[:4], "little"), int.from_bytes(raw[:4], "big")}
    klass = nib.Nifti2Image if 540 in sizes else nib.Nifti1Image
    return klass.from_bytes(raw)


def read_volume(path: str | os.PathLike, report: IntegrityReport, what: str = "volume") -> Volume | None:
    """Decode a whole image file, recording an error naming it (not raising) when it cannot be read.

    NIfTI (``.nii``, ``.nii.gz``) is read with nibabel only, as the bundles read it (``LoadVolumed`` with
    ``NibabelReader``): falling back to ITK would "read" a ``.nii.gz`` truncated inside its header as zeros. A
    ``.nii.gz`` is decompressed whole first, which verifies the gzip CRC: nibabel alone stops reading at the last
    voxel and never sees the checksum, so a corrupted byte inside the stream mostly decodes into wrong voxels.
    Other formats go through MONAI's ``LoadImage`` (reader by suffix: ITK, Pillow, ...).

    Args:
        path: the file (or a DICOM series folder).
        report: where an unreadable or missing file is recorded as an error.
        what: the file's role in the message (``"image"``, ``"label"``).

    Returns:
        The decoded :class:`Volume`, or None after recording the error.
    """
    path = str(path)
    problem = file_problem(path)
    if problem is not None:
        report.error(path, f"{what} {problem}" if problem == "file not found" else f"{what}: {problem}")
        return None
    try:
        if image_suffix(path) == ".nii.gz":
            try:
                raw = gzip.decompress(Path(path).read_bytes())
            except (EOFError, OSError, zlib.error) as err:  # OSError covers gzip.BadGzipFile and "CRC check failed"
                report.error(path, f"cannot read the {what}: truncated or corrupt gzip ({type(err).__name__}: {err})")
                return None
            img = _nifti_from_bytes(raw)
            return Volume(np.asanyarray(img.dataobj), np.asarray(img.affine, dtype=np.float64))
        if image_suffix(path) in NIFTI_SUFFIXES:
            img = nib.load(path)
            return Volume(np.asanyarray(img.dataobj), np.asarray(img.affine, dtype=np.float64))
        from monai.transforms import LoadImage

        img = LoadImage(image_only=True)(path)
        affine = np.asarray(img.affine, dtype=np.float64) if hasattr(img, "affine") else np.eye(4)
        return Volume(np.asarray(img), affine)
    except Exception as err:  # nibabel: EOFError/zlib.error/ImageFileError; ITK RuntimeError; Pillow OSError ...
        report.error(path, f"cannot read the {what} ({type(err).__name__}: {err})")
        return None


def check_finite(report: IntegrityReport, path: str, array: np.ndarray, what: str = "image") -> bool:
    """Record an error if a floating-point ``array`` holds NaN or inf. Returns True when all values are finite."""
    if array.dtype.kind not in "fc":
        return True
    finite = np.isfinite(array)
    if finite.all():
        return True
    first = tuple(int(i) for i in np.argwhere(~finite)[0])
    report.error(
        path,
        f"{what} has {int(np.isnan(array).sum())} NaN and {int(np.isinf(array).sum())} infinite value(s) "
        f"(first at index {first} of shape {tuple(array.shape)})",
    )
    return False


def _values(values: Iterable[float]) -> str:
    values = list(values)
    shown = ", ".join(f"{v:g}" for v in values[:_SHOWN_VALUES])
    return "{" + shown + (", ..." if len(values) > _SHOWN_VALUES else "") + "}"


def check_label_values(
    report: IntegrityReport,
    path: str,
    array: np.ndarray,
    labels: Sequence[float],
    what: str = "label",
    background: float | None = 0,
) -> bool:
    """Record an error for values outside ``labels`` and a warning for an empty label map.

    Args:
        report: where findings go.
        path: the file, named in the findings.
        array: the decoded label map.
        labels: allowed values.
        what: the map's role in the messages.
        background: a map holding only this value is reported as empty (a warning: such cases are legal but
            often a failed export); None skips this.

    Returns:
        True when all values are allowed.
    """
    values = np.unique(array)
    bad = values[~np.isin(values, np.asarray(labels, dtype=np.float64))]
    if bad.size:
        count = int((~np.isin(array, np.asarray(labels, dtype=np.float64))).sum())
        report.error(
            path,
            f"{what} has {count} voxel(s) with value(s) {_values(bad.tolist())} outside the expected labels "
            f"{sorted(labels)}",
        )
        return False
    if background is not None and values.size == 1 and float(values[0]) == float(background):
        report.warning(path, f"{what} is empty (only background {background:g}); kept, but check the export")
    return True


def _spacing(affine: np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(s), 4) for s in np.linalg.norm(affine[:3, :3], axis=0))


def compare_geometry(
    report: IntegrityReport,
    path: str,
    affine: np.ndarray,
    reference_path: str,
    reference_affine: np.ndarray,
    severity: str = "error",
    atol: float = 1e-3,
) -> bool:
    """Record a finding when two files' affines (spacing, orientation, origin) differ by more than ``atol`` (mm).

    Returns:
        True when they agree.
    """
    if np.allclose(affine, reference_affine, atol=atol):
        return True
    spacing, reference_spacing = _spacing(affine), _spacing(reference_affine)
    if not np.allclose(spacing, reference_spacing, atol=atol):
        detail = f"spacing {spacing} vs {reference_spacing} mm"
    else:
        shift = float(np.abs(np.asarray(affine) - np.asarray(reference_affine)).max())
        detail = f"same spacing {spacing} mm, orientation/origin differ by up to {shift:.4g} mm"
    message = f"affine differs from {reference_path}: {detail}"
    if severity == "error":
        report.error(path, message)
    else:
        report.warning(path, message)
    return False


def array_digest(array: np.ndarray) -> str:
    """SHA-1 of an array's values, dtype and shape (the same picture saved twice gives the same digest)."""
    contiguous = np.ascontiguousarray(array)
    digest = hashlib.sha1(f"{contiguous.dtype.str}{contiguous.shape}".encode())
    digest.update(memoryview(contiguous.reshape(-1).view(np.uint8)))
    return digest.hexdigest()


class DuplicateFinder:
    """Remembers array digests and reports a warning when an array was seen before under another file.

    Args:
        report: where duplicates are recorded.
        what: what is compared, for the message (``"image"``, ``"page"``).
    """

    def __init__(self, report: IntegrityReport, what: str = "image") -> None:
        self.report = report
        self.what = what
        self.seen: dict[str, str] = {}

    def add(self, path: str, array: np.ndarray, label: str | None = None) -> None:
        """Record ``array`` of ``path`` (``label`` names it in messages, default the path)."""
        name = label if label is not None else path
        digest = array_digest(array)
        if digest in self.seen:
            self.report.warning(
                path,
                f"{self.what} identical to {self.seen[digest]} (a duplicated case? it could land on both sides of "
                "the split)",
            )
        else:
            self.seen[digest] = name
