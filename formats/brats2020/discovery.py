"""BraTS2020 (seed 001): data list of the case folders, split by case, label mapping and axial slice range.

The release (``MICCAI_BraTS2020_TrainingData/``) holds one folder per case, ``BraTS20_Training_001/`` ...
``BraTS20_Training_369/``, each with ``<case>_flair``, ``<case>_t1``, ``<case>_t1ce``, ``<case>_t2`` and
``<case>_seg`` volumes (``.nii.gz``; some copies, e.g. on Kaggle, hold ``.nii``), 240 x 240 x 155 voxels of
1 mm, plus ``name_mapping.csv`` and ``survival_info.csv`` beside the folders. Labels: 0 background,
1 necrotic and non-enhancing tumour core (NCR/NET), 2 peritumoral edema (ED), 4 GD-enhancing tumour (ET);
there is no label 3. Validation folders (``BraTS20_Validation_NNN``) have no ``_seg``.

Seed 001 trains a 2D U-Net on axial slices 5-150 of two modalities resized to 128 x 128, with a 4-class
softmax (labels mapped to 0..3) and a 250/74/45 split of the 369 cases; it does not say which two
modalities. We default to FLAIR and T1ce (``BRATS_DEFAULT_MODALITIES``): FLAIR shows the whole tumour with the
edema, T1ce the enhancing tumour and the necrotic core inside it, so the pair covers all three labels.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from data.errors import DatasetError
from data.headers import ITK_SUFFIXES, NIFTI_SUFFIXES, image_suffix, read_image_shape
from data.problems import IntegrityReport
from formats.registry import DatasetSpec

__all__ = [
    "BRATS_DEFAULT_MODALITIES",
    "BRATS_LABELS",
    "BRATS_LABEL_NAMES",
    "BRATS_MODALITIES",
    "BRATS_SPLIT",
    "BRATS_TARGET_LABELS",
    "discover_brats",
    "find_brats_case_files",
    "volume_named",
    "segmentation_in",
]

BRATS_MODALITIES = ("flair", "t1", "t1ce", "t2")
BRATS_DEFAULT_MODALITIES = ("flair", "t1ce")
BRATS_LABELS = (0, 1, 2, 4)
BRATS_TARGET_LABELS = (0, 1, 2, 3)
BRATS_LABEL_NAMES = {
    0: "background",
    1: "necrotic and non-enhancing tumour core (NCR/NET, label 1)",
    2: "peritumoral edema (ED, label 2)",
    3: "GD-enhancing tumour (ET, label 4)",
}
BRATS_SPLIT = (250, 74, 45)  # seed 001: training / validation / test cases of 369
_VOLUME_SUFFIXES = NIFTI_SUFFIXES + tuple(s for s in ITK_SUFFIXES if s != ".dcm")
_ID_COLUMN = "BraTS_2020_subject_ID"


def volume_named(folder: Path, case_id: str, part: str) -> str | None:
    """``<case>_<part>`` with a volume suffix (or a DICOM folder of that name) in ``folder``, else None.

    Also accepts ``*_<part>.<suffix>`` with another prefix (a renamed folder) when exactly one file matches.
    """
    for suffix in _VOLUME_SUFFIXES:
        path = folder / f"{case_id}_{part}{suffix}"
        if path.is_file():
            return str(path)
    if (folder / f"{case_id}_{part}").is_dir():
        return str(folder / f"{case_id}_{part}")
    matches = sorted(
        p for p in folder.iterdir() if p.is_file() and image_suffix(p) in _VOLUME_SUFFIXES
        and p.name.lower()[: -len(image_suffix(p))].endswith(f"_{part}")
    )  # fmt: skip
    return str(matches[0]) if len(matches) == 1 else None


def segmentation_in(folder: Path, case_id: str) -> str | None:
    """The ``_seg`` volume; else the only volume whose name holds ``seg`` (one real case's file is ``*_Segm.nii``)."""
    found = volume_named(folder, case_id, "seg")
    if found is not None:
        return found
    loose = sorted(
        p for p in folder.iterdir()
        if p.is_file() and image_suffix(p) in _VOLUME_SUFFIXES and "seg" in p.name.lower()
    )  # fmt: skip
    return str(loose[0]) if len(loose) == 1 else None


def find_brats_case_files(
    case_dir: str | os.PathLike, modalities: Sequence[str] = BRATS_DEFAULT_MODALITIES, with_label: bool = True
) -> dict[str, Any]:
    """Data-list item of one BraTS case folder.

    Args:
        case_dir: a case folder, e.g. ``.../BraTS20_Training_001``; its name is the case id.
        modalities: modalities to stack as channels, in this order (from ``flair``, ``t1``, ``t1ce``, ``t2``).
        with_label: find the ``_seg`` volume too.

    Returns:
        ``{"image": [path per modality], "label": seg path, "case_id": folder name}`` (no ``label`` when
        ``with_label`` is False). Each path is a ``.nii.gz``/``.nii``/``.nrrd``/``.mha``/``.mhd`` file or a
        DICOM series folder named ``<case>_<modality>``.

    Raises:
        DatasetError: a requested volume is missing; the message names the folder and what is missing.
    """
    folder = Path(case_dir).expanduser().absolute()
    case_id = folder.name
    images, missing = [], []
    for modality in modalities:
        path = volume_named(folder, case_id, modality)
        images.append(path)
        if path is None:
            missing.append(f"{case_id}_{modality}.nii.gz")
    label = segmentation_in(folder, case_id) if with_label else None
    if with_label and label is None:
        missing.append(f"{case_id}_seg.nii.gz")
    if missing:
        raise DatasetError(f"{folder}: missing {', '.join(missing)} (or .nii/.nrrd/.mha, or a DICOM folder).")
    item: dict[str, Any] = {"image": images, "case_id": case_id}
    if with_label:
        item["label"] = label
    return item


def _check_case_headers(item: dict[str, Any], report: IntegrityReport) -> None:
    """Shapes of one case from the headers: every volume 3D, all of one shape (modalities are stacked as channels)."""
    paths = list(item["image"]) + ([item["label"]] if "label" in item else [])
    shapes = {}
    for path in paths:
        try:
            shape = read_image_shape(path)
        except DatasetError as err:
            report.record(path, err)
            continue
        if len(shape) != 3:
            report.error(
                path,
                f"shape {shape} is {len(shape)}D, expected one 3D volume (X, Y, Z) per modality (one channel each)",
            )
            continue
        shapes[path] = shape
    if len(set(shapes.values())) > 1:
        reference, reference_shape = next(iter(shapes.items()))
        for path, shape in shapes.items():
            if shape != reference_shape:
                report.error(
                    path,
                    f"shape {shape} differs from {reference_shape} of {Path(reference).name} (volumes of case "
                    f"{item['case_id']} differ in shape; modalities are stacked as channels)",
                )


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


def discover_brats(
    root: Path,
    report: IntegrityReport,
    modalities: Sequence[str] = BRATS_MODALITIES,
    with_label: bool = True,
    labels: Sequence[int] = BRATS_LABELS,
    expected_cases: int | None = None,
    check_headers: bool = True,
) -> DatasetSpec | None:
    """Read a BraTS2020 folder (``MICCAI_BraTS2020_TrainingData/`` or its validation twin) in one pass.

    Every sub-folder holding at least one ``<folder>_<modality>`` volume is a case (other folders: a warning;
    ``name_mapping.csv``, ``survival_info.csv``: read or ignored). Each case becomes
    ``{"image": [one path per modality], "label": seg path, "case_id": "BraTS20_Training_001"}``; MONAI's
    ``LoadImaged`` reads the list of paths and stacks the modalities as channels, in the order of ``modalities``.
    Volumes may be NIfTI (``.nii.gz``, ``.nii``) or ``.nrrd``/``.mha``/``.mhd``/DICOM series folders (ITK).

    Recorded problems: the folder missing or without a case; a case without a requested modality or ``_seg``
    (the case is left out); cases listed in ``name_mapping.csv`` without a folder (error) or the reverse
    (warning); a case count other than ``expected_cases``; from the headers: a volume that is not 3D, volumes of
    one case of different shapes.

    Args:
        root: folder holding the case folders (absolute).
        report: where the problems go.
        modalities: which modalities, in channel order: any non-empty subset of ``("flair", "t1", "t1ce", "t2")``
            (default all four; the seed's bundle reads FLAIR and T1ce, ``BRATS_DEFAULT_MODALITIES``).
        with_label: require and list the ``_seg`` volume (False for the validation release).
        labels: label values of the files (BraTS: 0, 1, 2, 4), checked when the label maps are decoded.
        expected_cases: the number of cases there should be (369 for the training release); None: any.
        check_headers: read every header (no voxel data).

    Returns:
        The spec (cases sorted by case id; ``test`` empty), or None when ``root`` is not a folder.

    Raises:
        ValueError: an unknown modality name (a configuration error, not a data problem).
    """
    unknown = [m for m in modalities if m not in BRATS_MODALITIES]
    if unknown or not modalities:
        raise ValueError(f"modalities must be a non-empty subset of {BRATS_MODALITIES}, got {list(modalities)}.")
    if not root.is_dir():
        report.error(root, "not a folder; dataset_dir must hold the BraTS20_Training_NNN case folders")
        return None
    datalist, found = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not any(volume_named(folder, folder.name, m) for m in BRATS_MODALITIES):
            report.warning(folder, "holds no <folder name>_<modality> volume; not a case folder (skipped)")
            continue
        found.append(folder.name)
        try:
            item = find_brats_case_files(folder, modalities, with_label)
        except DatasetError as err:
            report.record(folder, err)
            continue
        if check_headers:
            _check_case_headers(item, report)
        datalist.append(item)
    report.num_cases = len(found)
    if not found:
        report.error(
            root,
            "no case folder (expected BraTS20_Training_NNN/ holding BraTS20_Training_NNN_flair.nii.gz, ..._t1, "
            "..._t1ce, ..._t2, ..._seg)",
        )
    declared = _declared_cases(root, report)
    if declared is not None:
        for case_id in sorted(declared - set(found)):
            report.error(root / case_id, "listed in name_mapping.csv, but there is no such case folder")
        for case_id in sorted(set(found) - declared):
            report.warning(root / case_id, "case folder not listed in name_mapping.csv")
    if expected_cases is not None and len(found) != expected_cases:
        report.error(root, f"{len(found)} case folder(s), expected {expected_cases}")
    values = [int(v) for v in labels]
    names = {BRATS_LABELS[i]: BRATS_LABEL_NAMES[i] for i in range(len(BRATS_LABELS))}
    return DatasetSpec(
        format="brats2020",
        root=root,
        name=root.name,
        channel_names=[m.upper() if m != "t1ce" else "T1ce" for m in modalities],
        labels={names.get(v, f"label {v}"): i for i, v in enumerate(values)} if with_label else {},
        training=datalist if with_label else [],
        test=[] if with_label else datalist,
        spatial_dims=3,
        label_values=values if values != list(range(len(values))) else None,
        extra={"modalities": list(modalities), "label_values": values},
    )
