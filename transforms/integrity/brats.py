"""Integrity check of a BraTS2020 folder (one folder per case holding ``<case>_flair``, ``_t1``, ``_t1ce``, ``_t2``
and ``_seg`` volumes, ``name_mapping.csv`` beside them)."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from transforms.brats import BRATS_LABELS, BRATS_MODALITIES, _segmentation_in, _volume_named
from data.problems import IntegrityReport
from transforms.io import AFFINE_TOLERANCE_MM
from transforms.integrity.volumes import (
    DuplicateFinder,
    Volume,
    check_finite,
    check_label_values,
    compare_geometry,
    read_volume,
)

__all__ = ["check_brats2020"]

_ID_COLUMN = "BraTS_2020_subject_ID"


def _declared_cases(root: Path, report: IntegrityReport) -> set[str] | None:
    """Case ids listed in ``name_mapping.csv`` (or its validation twin), None without such a file."""
    for name in ("name_mapping.csv", "name_mapping_validation_data.csv"):
        path = root / name
        if not path.is_file():
            continue
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            report.error(path, f"cannot read the CSV ({type(err).__name__}: {err})")
            return None
        if not rows or _ID_COLUMN not in rows[0]:
            report.warning(path, f"no {_ID_COLUMN!r} column; the case count is not checked against it")
            return None
        return {row[_ID_COLUMN].strip() for row in rows if row[_ID_COLUMN]}
    return None


def _compare_modalities(
    report: IntegrityReport, path: str, affine: np.ndarray, reference: str, reference_affine: np.ndarray
) -> None:
    """Modalities are stacked as channels on the first one's grid (``LoadVolumed``): a difference up to
    ``AFFINE_TOLERANCE_MM`` (header rounding) is a warning, a larger one an error."""
    shift = float(np.abs(np.asarray(affine) - np.asarray(reference_affine)).max())
    if shift == 0:
        return
    if shift <= AFFINE_TOLERANCE_MM:
        report.warning(
            path, f"affine differs from {reference} by up to {shift:.2g} mm (header rounding?); stacked on its grid"
        )
        return
    compare_geometry(report, path, affine, reference, reference_affine, severity="error")


def _check_case(
    folder: Path,
    modalities: Sequence[str],
    labels: Sequence[int],
    with_label: bool,
    duplicates: DuplicateFinder,
    report: IntegrityReport,
) -> None:
    case_id = folder.name
    volumes: dict[str, Volume] = {}
    reference: str | None = None
    for modality in modalities:
        path = _volume_named(folder, case_id, modality)
        if path is None:
            report.error(folder, f"missing {case_id}_{modality}.nii.gz (or .nii/.nrrd/.mha, or a DICOM folder)")
            continue
        volume = read_volume(path, report, f"{modality} volume")
        if volume is None:
            continue
        if volume.array.ndim != 3:
            report.error(
                path,
                f"shape {volume.array.shape} is {volume.array.ndim}D, expected one 3D volume (X, Y, Z) per modality "
                "(one channel each)",
            )
            continue
        check_finite(report, path, volume.array, f"{modality} volume")
        if reference is None:
            reference = path
            duplicates.add(path, volume.array)
        elif volume.array.shape != volumes[reference].array.shape:
            report.error(
                path,
                f"shape {volume.array.shape} differs from {volumes[reference].array.shape} of {reference} "
                "(modalities are stacked as channels)",
            )
            continue
        else:
            _compare_modalities(report, path, volume.affine, reference, volumes[reference].affine)
        volumes[path] = volume
    if not with_label:
        return
    label_path = _segmentation_in(folder, case_id)
    if label_path is None:
        report.error(folder, f"missing {case_id}_seg.nii.gz (the label map)")
        return
    label = read_volume(label_path, report, "label")
    if label is None:
        return
    if label.array.ndim != 3:
        report.error(label_path, f"label shape {label.array.shape} is {label.array.ndim}D, expected 3D (X, Y, Z)")
    elif reference is not None and label.array.shape != volumes[reference].array.shape:
        report.error(
            label_path, f"label shape {label.array.shape} differs from {volumes[reference].array.shape} of {reference}"
        )
    elif reference is not None:
        compare_geometry(report, label_path, label.affine, reference, volumes[reference].affine, severity="error")
    check_label_values(report, label_path, label.array, labels)


def check_brats2020(
    dataset_dir: str | os.PathLike,
    modalities: Sequence[str] = BRATS_MODALITIES,
    labels: Sequence[int] = BRATS_LABELS,
    with_label: bool = True,
    expected_cases: int | None = None,
    progress: bool = True,
) -> IntegrityReport:
    """Check a BraTS2020 folder and report every problem, each with its file.

    Checks: case folders present, and matching ``name_mapping.csv`` when it is there (a listed case without a
    folder is an error, a folder it does not list a warning) and ``expected_cases``; every requested modality
    and the ``_seg`` volume present and decodable (a truncated ``.nii.gz`` is named); each one 3D (one channel);
    all modalities of a case of one shape (error: they are stacked as channels) and one affine (a difference
    up to ``AFFINE_TOLERANCE_MM``, header rounding, is a warning: ``LoadVolumed`` stacks them on the first
    modality's grid; a larger one an error); the label map of their shape and affine (errors), values in ``labels`` (error), not empty (warning); no NaN/inf;
    no case identical to another (warning).

    Args:
        dataset_dir: folder of the ``BraTS20_Training_NNN`` case folders.
        modalities: the modalities to check (default all four; a bundle may read only some).
        labels: allowed label values (BraTS: 0, 1, 2, 4).
        with_label: require the ``_seg`` volume (False for the validation release).
        expected_cases: the number of cases there should be (369 for the training release); None: not checked.
        progress: show a progress bar over the cases.
    """
    root = Path(dataset_dir).expanduser().absolute()
    report = IntegrityReport("brats2020", root)
    if not root.is_dir():
        report.error(root, "not a folder (expected the folder of the BraTS20_Training_NNN case folders)")
        return report
    cases = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if any(_volume_named(folder, folder.name, m) for m in BRATS_MODALITIES):
            cases.append(folder)
        else:
            report.warning(folder, "holds no <folder name>_<modality> volume; not a case folder (skipped)")
    report.num_cases = len(cases)
    if not cases:
        report.error(root, "no case folder (expected BraTS20_Training_NNN/ holding <folder>_flair.nii.gz, ...)")
    declared = _declared_cases(root, report)
    if declared is not None:
        found = {folder.name for folder in cases}
        for case_id in sorted(declared - found):
            report.error(root / case_id, "listed in name_mapping.csv, but there is no such case folder")
        for case_id in sorted(found - declared):
            report.warning(root / case_id, "case folder not listed in name_mapping.csv")
    if expected_cases is not None and len(cases) != expected_cases:
        report.error(root, f"{len(cases)} case folder(s), expected {expected_cases}")
    duplicates = DuplicateFinder(report, "volume")
    for folder in tqdm(cases, desc="checking BraTS cases", unit="case", disable=not progress):
        _check_case(folder, modalities, labels, with_label, duplicates, report)
    return report
