"""Discovery of an nnU-Net v2 raw data set: one pass over ``dataset.json`` and the file names, every problem
recorded in the :class:`~data.IntegrityReport` naming its file.

Layout (nnU-Net's documentation/dataset_format.md)::

    DatasetXXX_Name/
        dataset.json        channel_names, labels, numTraining, file_ending (regions: regions_class_order)
        imagesTr/{case}_{XXXX}{file_ending}    one file per channel XXXX = 0000, 0001, ...
        labelsTr/{case}{file_ending}
        imagesTs/{case}_{XXXX}{file_ending}    optional, unlabelled

or, instead of imagesTr / labelsTr, dataset.json's own list ``"dataset": {case: {"images": [...], "label": ...}}``
(paths relative to the data set folder), as nnU-Net v2 allows.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from data.problems import IntegrityReport
from formats.nnunet_v2.readers import FILE_ENDINGS_2D, FILE_ENDINGS_3D, is_2d_ending, read_header
from formats.registry import DatasetSpec

__all__ = [
    "REQUIRED_KEYS", "check_regions_class_order", "clean_labels", "discover_nnunet_v2", "parse_labels",
    "read_dataset_json",
]

REQUIRED_KEYS = ("channel_names", "labels", "numTraining", "file_ending")
_CHANNEL_FILE = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")


def read_dataset_json(root: Path, report: IntegrityReport) -> dict | None:
    """``root/dataset.json`` as a dict, or None with the problem recorded (missing, invalid JSON, keys missing)."""
    path = root / "dataset.json"
    if not path.is_file():
        report.error(path, "missing; an nnU-Net data set needs dataset.json with " + ", ".join(REQUIRED_KEYS))
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.error(path, f"not valid JSON ({exc}); fix the file")
        return None
    if not isinstance(meta, dict):
        report.error(path, "must hold a JSON object with " + ", ".join(REQUIRED_KEYS))
        return None
    if "channel_names" not in meta and isinstance(meta.get("modality"), dict):  # nnU-Net v1 / MSD spelling
        meta["channel_names"] = meta["modality"]
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        report.error(path, f"missing key(s) {missing}; nnU-Net v2 needs {list(REQUIRED_KEYS)}")
        return None
    return meta


def _channel_names(meta: dict, path: Path, report: IntegrityReport) -> list[str] | None:
    names = meta["channel_names"]
    if not isinstance(names, dict) or not names:
        report.error(path, 'channel_names must be an object like {"0": "T2", "1": "ADC"}')
        return None
    try:
        order = sorted((int(k), str(v)) for k, v in names.items())
    except (TypeError, ValueError):
        report.error(path, f"channel_names keys must be channel numbers 0, 1, ...; found {list(names)}")
        return None
    if [i for i, _ in order] != list(range(len(order))):
        found = [i for i, _ in order]
        report.error(path, f"channel_names keys must be 0..{len(order) - 1} without gaps; found {found}")
        return None
    return [n for _, n in order]


def clean_labels(labels: Any, path: Path, report: IntegrityReport) -> dict[str, int | list[int]] | None:
    """``labels`` of ``dataset.json`` (or a label grouping in its syntax) with every value a non-negative integer or
    a list of them (a region), or None with the problem recorded against ``path``."""
    if not isinstance(labels, dict) or not labels:
        report.error(path, 'labels must be an object like {"background": 0, "tumour": 1}')
        return None
    clean: dict[str, Any] = {}
    for name, value in labels.items():
        vals = value if isinstance(value, (list, tuple)) else [value]
        if not vals or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in vals):
            report.error(path, f"label {name!r}: {value!r} is not a non-negative integer or a list of them")
            return None
        clean[str(name)] = [int(v) for v in value] if isinstance(value, (list, tuple)) else int(value)
    return clean


def check_regions_class_order(
    labels: dict[str, int | list[int]], order: Any, path: Path, report: IntegrityReport
) -> list[int] | None:
    """nnU-Net's ``regions_class_order`` of region-based ``labels``: one integer label value per region (background
    excluded), or None with the problem recorded against ``path``."""
    regions = [k for k, v in labels.items() if v != 0]
    if not isinstance(order, list) or len(order) != len(regions) or not all(isinstance(o, int) for o in order):
        report.error(
            path, f"region-based labels ({regions}) need regions_class_order: one label value per region, "
            f"e.g. {list(range(1, len(regions) + 1))}"
        )
        return None
    return [int(o) for o in order]


def parse_labels(meta: dict, path: Path, report: IntegrityReport) -> tuple[dict, list[int], list[int] | None] | None:
    """Labels of ``dataset.json``: (labels, label values in training-index order, regions_class_order).

    Plain labels must be the consecutive values 0..N-1 (background 0). Region-based labels (a value given as a
    list, BraTS' ``"whole tumor": [1, 2, 3]``) need ``regions_class_order`` with one value per region; the values
    they use must be consecutive from 0 too.
    """
    clean = clean_labels(meta["labels"], path, report)
    if clean is None:
        return None
    if "ignore" in clean:
        report.warning(
            path, 'label "ignore" is trained as an ordinary class here (nnU-Net leaves it out of the loss); '
            "remove it from dataset.json and the label files if those voxels must not be learned"
        )
    region_based = any(isinstance(v, list) for v in clean.values())
    values = sorted({v for x in clean.values() for v in (x if isinstance(x, list) else [x])})
    if 0 not in values:
        report.error(path, "labels must declare the background as 0 (\"background\": 0)")
        return None
    if values != list(range(len(values))):
        gaps = sorted(set(range(max(values) + 1)) - set(values))
        report.error(
            path, f"labels are not consecutive: values {values} (missing {gaps}); nnU-Net needs 0, 1, 2, ... "
            "- renumber the label files and dataset.json"
        )
        return None
    order = meta.get("regions_class_order")
    if not region_based:
        if order is not None:
            report.warning(path, "regions_class_order is ignored: no label is a region (a list of values)")
        return clean, values, None
    checked = check_regions_class_order(clean, order, path, report)
    return None if checked is None else (clean, values, checked)


def _list_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _scan_images(folder: Path, ending: str, num_channels: int, report: IntegrityReport) -> dict[str, dict[int, Path]]:
    """case id -> channel -> file of one images folder; wrongly named files are recorded."""
    cases: dict[str, dict[int, Path]] = {}
    for f in _list_files(folder):
        if not f.name.endswith(ending):
            known = [e for e in FILE_ENDINGS_3D + FILE_ENDINGS_2D if f.name.lower().endswith(e)]
            hint = f"a {known[0]} file" if known else "an unknown file ending"
            report.error(f, f"{hint} in a data set whose dataset.json says file_ending {ending!r}; remove/convert it")
            continue
        m = _CHANNEL_FILE.match(f.name[: -len(ending)])
        if m is None:
            report.error(f, "name is not {case}_{XXXX}" + ending + " (a 4-digit channel number, e.g. case_0000)")
            continue
        channel = int(m["channel"])
        if channel >= num_channels:
            report.error(f, f"channel {channel:04d} but dataset.json declares {num_channels} channel(s) (0000..)")
            continue
        cases.setdefault(m["case"], {})[channel] = f
    return cases


def _case_images(case: str, channels: dict[int, Path], folder: Path, ending: str, num_channels: int,
                 report: IntegrityReport) -> list[str] | None:
    missing = [folder / f"{case}_{c:04d}{ending}" for c in range(num_channels) if c not in channels]
    for m in missing:
        report.error(m, f"missing: case {case!r} has {len(channels)} of {num_channels} channel files; add it")
    return None if missing else [str(channels[c]) for c in range(num_channels)]


def _dims(path: str, report: IntegrityReport) -> int | None:
    try:
        shape = read_header(path)
    except Exception as exc:  # DatasetError naming the file
        report.record(path, exc)
        return None
    if path.lower().endswith(FILE_ENDINGS_2D):
        return 2
    return 3 if len(shape) == 4 and shape[-1] == 1 else len(shape)  # as the reader gives it


def _folder_cases(root: Path, ending: str, num_channels: int, report: IntegrityReport) -> tuple[list[dict], int]:
    """Training cases of imagesTr / labelsTr and the number of label files."""
    images = _scan_images(root / "imagesTr", ending, num_channels, report)
    label_files: dict[str, Path] = {}
    for f in _list_files(root / "labelsTr"):
        if not f.name.endswith(ending):
            report.error(f, f"not a {ending} file (dataset.json's file_ending); remove or convert it")
            continue
        label_files[f.name[: -len(ending)]] = f
    training: list[dict] = []
    for case, lab in label_files.items():
        if case not in images:
            report.error(lab, f"label without images: no imagesTr/{case}_0000{ending}; add the images or remove it")
            continue
        files = _case_images(case, images[case], root / "imagesTr", ending, num_channels, report)
        if files is not None:
            training.append({"case_id": case, "image": files, "label": str(lab)})
    for case in sorted(set(images) - set(label_files)):
        report.error(
            root / "labelsTr" / f"{case}{ending}",
            f"missing: case {case!r} has images in imagesTr but no label; add it or move the images to imagesTs",
        )
    return training, len(label_files)


def _listed_cases(root: Path, listed: dict, num_channels: int, report: IntegrityReport) -> list[dict]:
    """Training cases of dataset.json's ``"dataset": {case: {"images": [...], "label": ...}}`` (paths relative to
    the data set folder or absolute, environment variables expanded, as nnU-Net)."""
    js = root / "dataset.json"
    training = []
    for case, entry in listed.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("images"), list) or "label" not in entry:
            report.error(js, f'dataset entry {case!r} needs "images" (one path per channel) and "label"')
            continue
        paths = [Path(os.path.expandvars(str(p))) for p in entry["images"] + [entry["label"]]]
        paths = [p if p.is_absolute() else root / p for p in paths]
        missing = [p for p in paths if not p.is_file()]
        for p in missing:
            report.error(p, f"missing: listed for case {case!r} in dataset.json; add the file or fix the path")
        if len(entry["images"]) != num_channels:
            report.error(js, f"case {case!r} lists {len(entry['images'])} image(s) for {num_channels} channel(s)")
            continue
        if not missing:
            training.append({"case_id": str(case), "image": [str(p) for p in paths[:-1]], "label": str(paths[-1])})
    return training


def discover_nnunet_v2(root: Path, report: IntegrityReport) -> DatasetSpec | None:
    """One pass over an nnU-Net v2 raw data set folder (see the module docstring for the layout).

    Records in ``report``: a missing or invalid dataset.json or key, channel_names not numbered 0..C-1, labels not
    consecutive, regions without regions_class_order, an unknown file ending, files not named
    ``{case}_{XXXX}{ending}``, a channel file missing for a case, an image without label or a label without image,
    ``numTraining`` disagreeing with the files, and 2D and 3D cases mixed (from the headers, no voxel is read).

    Returns:
        The :class:`DatasetSpec` (cases with ``case_id``, ``image`` = one path per channel, ``label``), or None when
        dataset.json is unusable or no training case is complete.
    """
    root = Path(root)
    report.num_cases = 0
    meta = read_dataset_json(root, report)
    if meta is None:
        return None
    js = root / "dataset.json"
    channel_names = _channel_names(meta, js, report)
    parsed = parse_labels(meta, js, report)
    ending = meta["file_ending"]
    if not isinstance(ending, str) or ending.lower() not in FILE_ENDINGS_3D + FILE_ENDINGS_2D:
        valid = list(FILE_ENDINGS_3D + FILE_ENDINGS_2D)
        report.error(js, f"file_ending {ending!r} is not supported; use one of {valid}")
        return None
    if channel_names is None or parsed is None:
        return None
    labels, label_values, regions_class_order = parsed
    num_channels = len(channel_names)
    if isinstance(meta.get("dataset"), dict):  # nnU-Net's explicit file list instead of imagesTr / labelsTr
        training = _listed_cases(root, meta["dataset"], num_channels, report)
        num_found = len(meta["dataset"])
    else:
        for sub in ("imagesTr", "labelsTr"):
            if not (root / sub).is_dir():
                report.error(root / sub, "missing folder; an nnU-Net data set needs imagesTr/ and labelsTr/")
        if report.errors:
            return None
        training, num_found = _folder_cases(root, ending, num_channels, report)
    num_training = meta.get("numTraining")
    if num_training != num_found:
        where = "dataset.json's dataset list holds" if isinstance(meta.get("dataset"), dict) else "labelsTr holds"
        report.error(js, f"numTraining is {num_training!r} but {where} {num_found} case(s); fix numTraining")

    test: list[dict] = []
    if (root / "imagesTs").is_dir():
        for case, channels in sorted(_scan_images(root / "imagesTs", ending, num_channels, report).items()):
            files = _case_images(case, channels, root / "imagesTs", ending, num_channels, report)
            if files is not None:
                test.append({"case_id": case, "image": files})
    report.num_cases = len(training)

    dims: dict[int, list[str]] = {}
    for case in training + test:
        d = _dims(case["image"][0], report)
        if d is not None:
            dims.setdefault(d, []).append(case["image"][0])
    if len(dims) > 1:
        minority = min(dims, key=lambda k: len(dims[k]))
        majority = max(dims, key=lambda k: len(dims[k]))
        for f in dims[minority]:
            report.error(f, f"a {minority}D case in a data set of {majority}D cases; 2D and 3D cases cannot be mixed")
    spatial_dims = max(dims, key=lambda k: len(dims[k])) if dims else (2 if is_2d_ending(ending) else 3)
    if not training:
        report.error(root / "labelsTr", "no complete training case (images for every channel and a label)")
        return None
    identity = label_values == list(range(len(label_values)))
    return DatasetSpec(
        format="nnunet_v2",
        root=root.absolute(),
        name=str(meta.get("name") or root.name),
        channel_names=channel_names,
        labels=labels,
        training=training,
        test=test,
        spatial_dims=spatial_dims,
        label_values=None if identity and regions_class_order is None else label_values,
        regions_class_order=regions_class_order,
        extra={"file_ending": ending, "dataset_json": meta},
    )
