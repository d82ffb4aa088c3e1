"""Discovery of a Medical Segmentation Decathlon task folder (``dataset.json``, ``imagesTr/``, ``labelsTr/``,
``imagesTs/``): one pass that reads ``dataset.json`` and the file headers (no voxel data) and records every problem.

Any MSD task is read: the channel names come from ``dataset.json``'s ``modality`` (``{"0": "FLAIR", ...}``, one
channel per entry), the classes from ``labels`` (``{"0": "background", "1": "edema", ...}``), images are 4D
(X, Y, Z, C) or, for a one-modality task, 3D. What a bundle expects of its data (Task01: 4 channels, labels 0..3)
is the bundle's option (``num_channels``, ``labels``), not the format's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from data.headers import case_id_from_path, file_problem, read_image_header
from data.problems import IntegrityReport
from data.volume_checks import compare_geometry
from formats.registry import DatasetSpec

__all__ = ["MSD_REQUIRED_KEYS", "discover_msd", "read_dataset_json"]

MSD_REQUIRED_KEYS = ("modality", "labels", "numTraining", "training")
_FOLDERS = ("imagesTr", "labelsTr", "imagesTs")
_AFFINE_TOLERANCE = 1e-3  # mm: label and image voxels must lie on the same grid


def read_dataset_json(json_path: Path, report: IntegrityReport) -> dict[str, Any] | None:
    """``dataset.json`` parsed, or None after recording why it cannot be used (missing required keys are errors,
    the rest is still returned)."""
    if not json_path.is_file():
        report.error(
            json_path,
            "dataset.json not found; --dataset_dir must be an MSD task folder holding dataset.json, imagesTr/, "
            "labelsTr/ and imagesTs/",
        )
        return None
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        report.error(json_path, f"not valid JSON ({err})")
        return None
    if not isinstance(meta, dict):
        report.error(json_path, f"holds a {type(meta).__name__}, expected a JSON object")
        return None
    if not isinstance(meta.get("training"), list):
        report.error(json_path, "no 'training' list (an MSD dataset.json lists its labelled cases there)")
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


def _labels(meta: dict, json_path: Path, expected: Sequence[int] | None, report: IntegrityReport) -> dict[str, int]:
    """Class name -> label value from ``labels``; the bundle's ``expected`` values when ``labels`` is unusable."""
    declared: dict[str, int] = {}
    if isinstance(meta.get("labels"), dict):
        try:
            declared = {str(name): int(value) for value, name in meta["labels"].items()}
        except ValueError:
            report.error(json_path, f"'labels' keys {list(meta['labels'])} are not integers")
    elif "labels" in meta:
        report.error(json_path, f"'labels' is {meta['labels']!r}, expected an object {{\"0\": \"background\", ...}}")
    if expected is not None and declared and sorted(declared.values()) != sorted(expected):
        report.warning(
            json_path, f"'labels' declares {sorted(declared.values())}, the bundle expects {sorted(expected)}"
        )
    if expected is not None and not declared:
        declared = {f"label {v}": int(v) for v in expected}
    return declared


def _channels(meta: dict, json_path: Path, report: IntegrityReport) -> list[str]:
    if isinstance(meta.get("modality"), dict):
        return [str(meta["modality"][k]) for k in sorted(meta["modality"], key=lambda k: int(k) if k.isdigit() else k)]
    if "modality" in meta:
        report.error(json_path, f"'modality' is {meta['modality']!r}, expected an object {{\"0\": \"FLAIR\", ...}}")
    return []


def _entries(
    meta: dict, section: str, json_path: Path, root: Path, report: IntegrityReport, allow_outside_paths: bool = False
) -> list[dict]:
    """Items of one section with absolute paths; malformed entries, duplicated cases and (unless allowed) paths
    leading out of ``root`` (``../other_set/imagesTr/x.nii.gz``, an absolute path elsewhere) are errors."""
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
                    outside.append(
                        f"{section}[{index}] {key} {listed!r} points outside the data set folder (to {item[key]}); "
                        "fix the entry, or allow it with allow_outside_paths"
                    )
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
        item["case_id"] = case_id
        items.append(item)
    return items


def _check_headers(item: dict, entry: str, channels: int | None, report: IntegrityReport) -> bool:
    """Files present; shapes and affines from the headers: image 4D with ``channels`` channels (3D when one),
    label 3D on the image's grid. Returns True when the case is usable."""
    shapes, affines, ok = {}, {}, True
    for key in ("image", "label"):
        path = item.get(key)
        if path is None:
            continue
        problem = file_problem(path)  # None for a readable file or a folder (a DICOM series)
        if problem is not None:
            what = f"{key} not found" if problem == "file not found" else f"{key}: {problem}"
            report.error(path, f"{what} (listed in {entry})")
            ok = False
            continue
        try:
            shapes[key], affine = read_image_header(path)
        except Exception as err:  # DatasetError naming the file
            report.record(path, err)
            ok = False
            continue
        if affine is not None:  # NIfTI; ITK formats: no affine check from the header
            affines[key] = affine
    image = shapes.get("image")
    if image is not None:
        if len(image) == 3 and channels in (None, 1):
            image = (*image, 1)
        elif len(image) != 4:
            report.error(item["image"], f"image shape {image} is {len(image)}D, expected 4D (X, Y, Z, channels)")
            image, ok = None, False
        elif channels is not None and image[3] != channels:
            report.error(item["image"], f"image has {image[3]} channels (shape {image}), expected {channels}")
            ok = False
    label = shapes.get("label")
    if label is not None:
        if not (len(label) == 3 or (len(label) == 4 and label[3] == 1)):
            report.error(item["label"], f"label shape {label}, expected 3D (X, Y, Z)")
            ok = False
        elif image is not None and tuple(label[:3]) != tuple(image[:3]):
            report.error(
                item["label"],
                f"label spatial shape {label[:3]} differs from image {item['image']} spatial shape {image[:3]}",
            )
            ok = False
        elif image is not None and {"label", "image"} <= affines.keys():
            ok = compare_geometry(
                report, item["label"], affines["label"], item["image"], affines["image"], atol=_AFFINE_TOLERANCE
            ) and ok
    return ok


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


def discover_msd(
    root: Path,
    report: IntegrityReport,
    num_channels: int | None = None,
    labels: Sequence[int] | None = None,
    sections: Sequence[str] = ("training", "test"),
    check_files: bool = True,
    allow_outside_paths: bool = False,
) -> DatasetSpec | None:
    """Read an MSD task folder in one pass and record every problem, each with its file.

    Checks: ``dataset.json`` present, valid, with ``modality``, ``labels``, ``numTraining`` and ``training``;
    ``numTraining``/``numTest`` equal to the listed cases; no case listed twice; every listed file present; from
    the headers: images 4D with one channel per ``modality`` entry (3D for one modality), labels 3D of the image's
    spatial shape and affine; files in ``imagesTr/``, ``labelsTr/``, ``imagesTs/`` that ``dataset.json`` does not
    list (warning).

    Args:
        root: the task folder (absolute).
        report: where the problems go.
        num_channels: channels the bundle expects (MSD Task01: 4); a ``modality`` of another length is an error.
            None: as many as ``modality`` declares.
        labels: label values the bundle expects (Task01: 0..3); ``labels`` declaring others is a warning, and the
            content check accepts only these values. None: the values of ``labels``.
        sections: lists of ``dataset.json`` read (``training`` cases are labelled, ``test`` cases not).
        check_files: check that the listed files exist and read their headers (False: ``dataset.json`` only).
        allow_outside_paths: accept ``dataset.json`` paths that lead out of the folder (an error otherwise).

    Returns:
        The :class:`~formats.registry.DatasetSpec` (``training``: ``{"image", "label", "case_id"}``; ``test``:
        ``{"image", "case_id"}``, absolute paths in ``dataset.json`` order), or None when ``dataset.json`` is
        unusable.
    """
    if not root.is_dir():
        report.error(root, "not a folder (expected an MSD task folder holding dataset.json)")
        return None
    json_path = root / "dataset.json"
    meta = read_dataset_json(json_path, report)
    if meta is None:
        return None
    _declared_count(meta, json_path, "numTraining", "training", report)
    _declared_count(meta, json_path, "numTest", "test", report)
    label_map = _labels(meta, json_path, labels, report)
    channel_names = _channels(meta, json_path, report)
    if num_channels is not None and channel_names and len(channel_names) != num_channels:
        report.error(
            json_path, f"'modality' declares {len(channel_names)} modalities, the bundle expects {num_channels}"
        )
    channels = num_channels if num_channels is not None else (len(channel_names) or None)
    if not channel_names:
        channel_names = [f"channel {c}" for c in range(channels or 1)]
    parts = {section: _entries(meta, section, json_path, root, report, allow_outside_paths) for section in sections}
    everything = [item for items in parts.values() for item in items]
    report.num_cases = len(everything)
    for section, items in parts.items():
        for index, item in enumerate(items):
            entry = f"{json_path} as {section}[{index}]"
            if check_files:
                _check_headers(item, entry, channels, report)
    if check_files:
        _unlisted_files(root, everything, report)
    values = sorted(set(label_map.values())) if labels is None else sorted(int(v) for v in labels)
    names = {value: name for name, value in label_map.items()}
    ordered = {names.get(v, f"label {v}"): i for i, v in enumerate(values)}
    return DatasetSpec(
        format="msd",
        root=root,
        name=str(meta.get("name") or root.name),
        channel_names=channel_names,
        labels=ordered,
        training=parts.get("training", []),
        test=[item for section, items in parts.items() if section != "training" for item in items],
        spatial_dims=3,
        label_values=values if values != list(range(len(values))) else None,
        extra={"label_values": values, "num_channels": channels, "modality": meta.get("modality")},
    )
