"""Integrity check of the Figshare brain-tumour data set (``1.mat`` ... ``3064.mat``, MATLAB v7.3 holding
``cjdata.image``, ``cjdata.tumorMask``, ``cjdata.label``, ``cjdata.PID``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data.errors import DatasetError
from transforms.figshare import _check_label, _number, decode_matlab_char, read_mat_field
from data.problems import IntegrityReport
from transforms.integrity.volumes import DuplicateFinder, check_finite, check_label_values

__all__ = ["check_figshare"]

_FIELDS = ("image", "tumorMask", "label", "PID")


def _read_fields(path: str, report: IntegrityReport) -> dict[str, np.ndarray]:
    """The fields that can be read; a missing field is an error, an unreadable file one error (not one per field)."""
    fields = {}
    for name in _FIELDS:
        try:
            fields[name] = read_mat_field(path, f"cjdata/{name}")
        except DatasetError as err:
            report.record(path, err)
            if not isinstance(err.__cause__, KeyError):
                break  # the file itself cannot be read: every other field would fail the same way
    return fields


def _check_file(path: str, duplicates: DuplicateFinder, report: IntegrityReport) -> None:
    fields = _read_fields(path, report)
    image, mask = fields.get("image"), fields.get("tumorMask")
    if image is not None:
        if image.ndim != 2:
            report.error(path, f"cjdata.image has shape {image.shape}, expected a 2D image")
            image = None
        elif check_finite(report, path, image, "cjdata.image"):
            duplicates.add(path, image)
    if mask is not None:
        if image is not None and mask.shape != image.shape:
            report.error(path, f"cjdata.tumorMask has shape {mask.shape}, cjdata.image {image.shape}")
        check_label_values(report, path, mask, (0, 1), what="cjdata.tumorMask")
    if "label" in fields:
        try:
            _check_label(path, fields["label"])
        except DatasetError as err:
            report.record(path, err)
    if "PID" in fields and not decode_matlab_char(fields["PID"]):
        report.error(path, "cjdata.PID is empty (the split by patient needs it)")


def check_figshare(
    dataset_dir: str | os.PathLike,
    expected_cases: int | None = None,
    recursive: bool = True,
    progress: bool = True,
) -> IntegrityReport:
    """Check the Figshare ``.mat`` files and report every problem, each with its file.

    Checks: ``.mat`` files present (``expected_cases`` of them, 3064 for the release); no file name (= case id)
    twice in different sub-folders; every file readable as MATLAB v7.3 (or v5) with ``cjdata.image``,
    ``tumorMask``, ``label`` and ``PID``; the image 2D without NaN/inf; the mask of the image's shape with values
    0 and 1 (errors) and not empty (warning); the class label one of 1, 2, 3; the PID not empty; no image
    identical to another (warning).

    Args:
        dataset_dir: folder of the ``.mat`` files, or of the unzipped ``brainTumorDataPublic_*`` folders.
        expected_cases: how many files there should be; None: not checked.
        recursive: search sub-folders too.
        progress: show a progress bar over the files.
    """
    root = Path(dataset_dir).expanduser().absolute()
    report = IntegrityReport("figshare", root)
    if not root.is_dir():
        report.error(root, "not a folder (expected the folder of the data set's .mat files)")
        return report
    files = sorted(root.rglob("*.mat") if recursive else root.glob("*.mat"), key=_number)
    files = [f for f in files if f.name != "cvind.mat"]  # the release's cross-validation indices
    report.num_cases = len(files)
    if not files:
        report.error(root, "no .mat file (expected 1.mat ... 3064.mat, possibly in sub-folders)")
    if expected_cases is not None and len(files) != expected_cases:
        report.error(root, f"{len(files)} .mat file(s), expected {expected_cases}")
    seen: dict[str, Path] = {}
    for path in files:
        if path.stem in seen:
            report.error(path, f"case {path.stem!r} twice: also {seen[path.stem]} (file names are the case ids)")
        seen.setdefault(path.stem, path)
    duplicates = DuplicateFinder(report, "cjdata.image")
    for path in tqdm(files, desc="checking Figshare files", unit="file", disable=not progress):
        _check_file(str(path), duplicates, report)
    return report
