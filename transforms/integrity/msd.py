"""Integrity check of a Medical Segmentation Decathlon task folder (MSD Task01: ``dataset.json``, ``imagesTr/``,
``labelsTr/``, ``imagesTs/``), after nnU-Net's ``verify_dataset_integrity``."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from data.problems import IntegrityReport
from transforms.image_headers import file_problem
from transforms.integrity.volumes import (
    DuplicateFinder,
    check_finite,
    check_label_values,
    compare_geometry,
    read_volume,
)
from transforms.msd_datalist import case_id_from_path

__all__ = ["MSD_REQUIRED_KEYS", "check_msd_task01"]

MSD_REQUIRED_KEYS = ("modality", "labels", "numTraining", "training")
_FOLDERS = ("imagesTr", "labelsTr", "imagesTs")


def _read_json(json_path: Path, report: IntegrityReport) -> dict[str, Any] | None:
    if not json_path.is_file():
        report.error(json_path, "dataset.json not found (an MSD task folder holds dataset.json, imagesTr/, labelsTr/)")
        return None
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        report.error(json_path, f"not valid JSON ({err})")
        return None
    if not isinstance(meta, dict):
        report.error(json_path, f"holds a {type(meta).__name__}, expected a JSON object")
        return None
    missing = [key for key in MSD_REQUIRED_KEYS if key not in meta]
    if missing:
        report.error(json_path, f"missing required key(s) {missing} (required: {list(MSD_REQUIRED_KEYS)})")
    return meta


def _declared_count(meta: dict, json_path: Path, count_key: str, list_key: str, report: IntegrityReport) -> None:
    listed = meta.get(list_key)
    if count_key not in meta or not isinstance(listed, list):
        if isinstance(listed, list) and count_key not in MSD_REQUIRED_KEYS:
            report.warning(json_path, f"no {count_key!r}: the number of {list_key!r} cases is not declared")
        return
    declared = meta[count_key]
    if not isinstance(declared, int) or isinstance(declared, bool):
        report.error(json_path, f"{count_key} is {declared!r}, expected an integer")
    elif declared != len(listed):
        report.error(json_path, f"{count_key} is {declared} but {list_key!r} lists {len(listed)} case(s)")


def _expected_labels(
    meta: dict, json_path: Path, labels: Sequence[int] | None, report: IntegrityReport
) -> list[int] | None:
    declared = None
    if isinstance(meta.get("labels"), dict):
        try:
            declared = sorted(int(k) for k in meta["labels"])
        except ValueError:
            report.error(json_path, f"'labels' keys {list(meta['labels'])} are not integers")
    elif "labels" in meta:
        report.error(json_path, f"'labels' is {meta['labels']!r}, expected an object {{\"0\": \"background\", ...}}")
    if labels is None:
        return declared  # None: unknown (the missing key is an error already), label values are not checked
    if declared is not None and declared != sorted(labels):
        report.warning(json_path, f"'labels' declares {declared}, the bundle expects {sorted(labels)}")
    return list(labels)


def _expected_channels(meta: dict, json_path: Path, num_channels: int | None, report: IntegrityReport) -> int | None:
    declared = len(meta["modality"]) if isinstance(meta.get("modality"), dict) else None
    if "modality" in meta and declared is None:
        report.error(json_path, f"'modality' is {meta['modality']!r}, expected an object {{\"0\": \"FLAIR\", ...}}")
    if num_channels is None:
        return declared
    if declared is not None and declared != num_channels:
        report.warning(json_path, f"'modality' declares {declared} modalities, the bundle expects {num_channels}")
    return num_channels


def _entries(
    meta: dict, section: str, json_path: Path, root: Path, report: IntegrityReport, allow_outside_paths: bool = False
) -> list[dict]:
    """Items of one section with absolute paths; malformed entries, duplicated cases and (unless allowed) paths
    leading out of ``root`` are errors."""
    if section not in meta:
        return []
    if not isinstance(meta[section], list):
        report.error(json_path, f"{section!r} is a {type(meta[section]).__name__}, expected a list")
        return []
    items, seen = [], {}
    for index, entry in enumerate(meta[section]):
        item = {"image": entry} if isinstance(entry, str) else dict(entry) if isinstance(entry, dict) else {}
        if not isinstance(item.get("image"), str):
            report.error(json_path, f"{section}[{index}] = {entry!r} has no 'image' path")
            continue
        if section == "training" and not isinstance(item.get("label"), str):
            report.error(json_path, f"{section}[{index}] = {entry!r} has no 'label' path")
            continue
        outside = []
        for key in ("image", "label"):
            if isinstance(item.get(key), str):
                listed, item[key] = item[key], os.path.normpath(os.path.join(root, item[key]))
                base = os.path.normpath(root)
                if not allow_outside_paths and os.path.commonpath([base, item[key]]) != base:
                    outside.append(f"{section}[{index}] {key} {listed!r} points outside the data set folder (to "
                                   f"{item[key]}); fix the entry, or allow it with allow_outside_paths")  # fmt: skip
        for message in outside:
            report.error(json_path, message)
        if outside:
            continue
        case_id = case_id_from_path(item["image"])
        if case_id in seen:
            report.error(
                json_path, f"case {case_id!r} listed twice in {section!r} (entries {seen[case_id]} and {index})"
            )
            continue
        seen[case_id] = index
        item.update(case_id=case_id, entry=f"{section}[{index}]")
        items.append(item)
    return items


def _check_case(
    item: dict, labels: list[int] | None, channels: int | None, duplicates: DuplicateFinder, report: IntegrityReport
) -> None:
    image_path, label_path = item["image"], item.get("label")
    listed = f"listed in dataset.json as {item['entry']}"
    image = None
    if not os.path.lexists(image_path) or file_problem(image_path) == "file not found":
        report.error(image_path, f"image not found ({listed})")
    else:
        image = read_volume(image_path, report, "image")
    image_ok = image is not None
    if image is not None:
        shape = image.array.shape
        if image.array.ndim != 4:
            report.error(image_path, f"image shape {shape} is {image.array.ndim}D, expected 4D (X, Y, Z, channels)")
            image_ok = False
        elif channels is not None and shape[3] != channels:
            report.error(image_path, f"image has {shape[3]} channel(s) (shape {shape}), expected {channels}")
        check_finite(report, image_path, image.array, "image")
        duplicates.add(image_path, image.array)
    if label_path is None:
        return
    if not os.path.lexists(label_path) or file_problem(label_path) == "file not found":
        report.error(label_path, f"label not found ({listed})")
        return
    label = read_volume(label_path, report, "label")
    if label is None:
        return
    array = label.array
    if array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        report.error(label_path, f"label shape {label.array.shape} is {label.array.ndim}D, expected 3D (X, Y, Z)")
    elif image_ok and array.shape != image.array.shape[:3]:
        report.error(
            label_path, f"label shape {array.shape} differs from the image's {image.array.shape[:3]} ({image_path})"
        )
    elif image_ok:
        compare_geometry(report, label_path, label.affine, image_path, image.affine, severity="error")
    if labels is not None:
        check_label_values(report, label_path, array, labels)


def _unlisted_files(root: Path, items: list[dict], report: IntegrityReport) -> None:
    listed = {os.path.normpath(item[key]) for item in items for key in ("image", "label") if key in item}
    for folder in _FOLDERS:
        if not (root / folder).is_dir():
            continue
        for path in sorted((root / folder).iterdir()):
            if path.name.startswith("."):  # the release holds macOS "._BRATS_001.nii.gz" resource forks
                continue
            if path.is_file() and os.path.normpath(path) not in listed:
                report.warning(path, "not listed in dataset.json (not used)")


def check_msd_task01(
    dataset_dir: str | os.PathLike,
    num_channels: int | None = None,
    labels: Sequence[int] | None = None,
    sections: Sequence[str] = ("training", "test"),
    progress: bool = True,
    allow_outside_paths: bool = False,
) -> IntegrityReport:
    """Check an MSD task folder and report every problem, each with its file.

    Checks: ``dataset.json`` present, valid, with the keys ``modality``, ``labels``, ``numTraining``,
    ``training``; ``numTraining``/``numTest`` equal to the listed cases; no case listed twice; every listed file
    present and decodable (a truncated ``.nii.gz`` is an error naming it); images 4D with the expected channel
    count; labels 3D, of the image's shape and affine (errors), with values in the expected set (error) and not
    empty (warning); no NaN/inf in images; no image identical to another (warning); files in ``imagesTr/``,
    ``labelsTr/``, ``imagesTs/`` that ``dataset.json`` does not list (warning).

    Args:
        dataset_dir: the task folder (``Task01_BrainTumour/``).
        num_channels: image channels expected; None: the number of ``modality`` entries of ``dataset.json``.
        labels: label values expected; None: the keys of ``labels`` in ``dataset.json``.
        sections: lists of ``dataset.json`` whose files are checked.
        progress: show a progress bar over the cases.
        allow_outside_paths: accept ``dataset.json`` paths that lead out of the folder (an error otherwise).

    Returns:
        The :class:`~transforms.integrity.IntegrityReport`.
    """
    root = Path(dataset_dir).expanduser().absolute()
    report = IntegrityReport("msd_task01", root)
    if not root.is_dir():
        report.error(root, "not a folder (expected an MSD task folder holding dataset.json)")
        return report
    json_path = root / "dataset.json"
    meta = _read_json(json_path, report)
    if meta is None:
        return report
    _declared_count(meta, json_path, "numTraining", "training", report)
    _declared_count(meta, json_path, "numTest", "test", report)
    expected_labels = _expected_labels(meta, json_path, labels, report)
    channels = _expected_channels(meta, json_path, num_channels, report)
    items = [item for section in sections for item in _entries(meta, section, json_path, root, report, allow_outside_paths)]
    report.num_cases = len(items)
    duplicates = DuplicateFinder(report, "image")
    for item in tqdm(items, desc="checking MSD cases", unit="case", disable=not progress):
        _check_case(item, expected_labels, channels, duplicates, report)
    _unlisted_files(root, items, report)
    return report
