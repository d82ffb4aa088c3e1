"""MSD data lists: read ``dataset.json``, check the listed files before training, split by case."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from data.errors import DatasetError
from transforms.image_headers import file_problem, image_suffix, read_image_header

__all__ = [
    "case_id_from_path",
    "check_msd_files",
    "check_msd_headers",
    "load_msd_datalist",
    "read_msd_dataset_json",
    "split_by_case",
]

_PATH_KEYS = ("image", "label")
_MAX_LISTED = 20  # problems spelled out in one error message
_AFFINE_TOLERANCE = 1e-3  # mm: label and image voxels must lie on the same grid


def case_id_from_path(path: str | os.PathLike) -> str:
    """Case id of a volume file: its name without the image suffix (``.../BRATS_001.nii.gz`` -> ``BRATS_001``,
    ``BRATS_001.nrrd`` -> ``BRATS_001``; a DICOM series folder: its name)."""
    name = Path(path).name
    suffix = image_suffix(name)
    return name[: -len(suffix)] if suffix else name


def read_msd_dataset_json(dataset_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and minimally validate ``dataset_dir/dataset.json`` of a Medical Segmentation Decathlon task.

    Args:
        dataset_dir: the task folder (e.g. ``Task01_BrainTumour/``).

    Returns:
        The parsed JSON object.

    Raises:
        DatasetError: the file is missing, not valid JSON, not an object, or without a ``training`` list;
            the message names the file.
    """
    path = Path(dataset_dir).expanduser().absolute() / "dataset.json"
    if not path.is_file():
        raise DatasetError(
            f"{path}: dataset.json not found; --dataset_dir must be an MSD task folder holding dataset.json, "
            "imagesTr/, labelsTr/ and imagesTs/."
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: not valid JSON ({err}).") from err
    if not isinstance(meta, dict) or not isinstance(meta.get("training"), list):
        raise DatasetError(f"{path}: no 'training' list (an MSD dataset.json lists its labelled cases there).")
    return meta


def _entries(
    meta: dict[str, Any], section: str, json_path: Path, dataset_dir: Path, allow_outside_paths: bool = False
) -> list[dict]:
    """MONAI-style dictionaries of one section, with absolute paths and a ``case_id``; a path leading out of
    ``dataset_dir`` (``../other_set/...``, an absolute path elsewhere) is an error unless ``allow_outside_paths``."""
    if not isinstance(meta.get(section), list):
        sections = sorted(k for k, v in meta.items() if isinstance(v, list))
        raise DatasetError(f"{json_path}: no {section!r} list (lists present: {sections}).")
    items, seen = [], {}
    for index, entry in enumerate(meta[section]):
        item = {"image": entry} if isinstance(entry, str) else dict(entry) if isinstance(entry, dict) else None
        if item is None or not isinstance(item.get("image"), str):
            raise DatasetError(f"{json_path}: {section}[{index}] = {entry!r} has no 'image' path.")
        if section == "training" and not isinstance(item.get("label"), str):
            raise DatasetError(f"{json_path}: training[{index}] = {entry!r} has no 'label' path.")
        for key in _PATH_KEYS:
            if isinstance(item.get(key), str):
                listed, item[key] = item[key], os.path.normpath(os.path.join(dataset_dir, item[key]))
                base = os.path.normpath(dataset_dir)
                if not allow_outside_paths and os.path.commonpath([base, item[key]]) != base:
                    raise DatasetError(
                        f"{json_path}: {section}[{index}] {key} {listed!r} points outside the data set folder "
                        f"{base} (to {item[key]}). Fix the entry, or allow it with "
                        "load_msd_datalist(..., allow_outside_paths=True)."
                    )
        item["case_id"] = case_id_from_path(item["image"])
        if item["case_id"] in seen:
            raise DatasetError(
                f"{json_path}: case {item['case_id']!r} listed twice in {section!r} (entries {seen[item['case_id']]} "
                f"and {index})."
            )
        seen[item["case_id"]] = index
        items.append(item)
    return items


def _raise_all(problems: list[str], what: str) -> None:
    if problems:
        shown = problems[:_MAX_LISTED]
        if len(problems) > _MAX_LISTED:
            shown.append(f"... and {len(problems) - _MAX_LISTED} more")
        raise DatasetError(f"{len(problems)} {what}:\n  " + "\n  ".join(shown))


def check_msd_files(datalist: Sequence[dict], source: str | os.PathLike = "the data list") -> None:
    """Check that every ``image``/``label`` path of ``datalist`` is an existing, non-empty file (or a DICOM folder):
    a missing file, a broken link, a symbolic link loop and an empty file are each named as such.

    Args:
        datalist: dictionaries as returned by :func:`load_msd_datalist`.
        source: where the list came from, quoted in the message (e.g. the ``dataset.json`` path).

    Raises:
        DatasetError: naming every missing or unreadable file (up to 20), why, and the list that names it.
    """
    paths = [item[key] for item in datalist for key in _PATH_KEYS if isinstance(item.get(key), str)]
    found = [(path, file_problem(path)) for path in paths]
    problems = [f"{path} (listed in {source}): {problem}" for path, problem in found if problem is not None]
    _raise_all(problems, "listed file(s) missing or unreadable")


def check_msd_headers(datalist: Sequence[dict], num_channels: int | None = 4) -> None:
    """Check volume shapes from the file headers only (no voxel data is decoded): NIfTI through nibabel,
    ``.nrrd``/``.mha``/DICOM series through ITK (:func:`transforms.image_headers.read_image_header`).

    Each image must be 4D (X, Y, Z, C) with C == ``num_channels``; each label 3D (or 4D with one channel) with
    the image's spatial shape and affine (within 0.001 mm: the label's voxels must lie on the image's grid).

    Args:
        datalist: dictionaries with absolute ``image`` (and ``label``) paths.
        num_channels: channels expected in the 4th dimension (MSD Task01: 4 modalities); None: any.

    Raises:
        DatasetError: naming every offending file (up to 20) and what is wrong with it.
    """
    problems = []
    for item in datalist:
        shapes, affines = {}, {}
        for key in _PATH_KEYS:
            if not isinstance(item.get(key), str):
                continue
            try:
                shapes[key], affine = read_image_header(item[key])
                if affine is not None:  # NIfTI; ITK formats: no affine check from the header
                    affines[key] = affine
            except DatasetError as err:  # names the file
                problems.append(str(err))
        image = shapes.get("image")
        if image is not None:
            if len(image) != 4:
                problems.append(
                    f"{item['image']}: image shape {image} is {len(image)}D, expected 4D (X, Y, Z, channels)"
                )
                image = None
            elif num_channels is not None and image[3] != num_channels:
                problems.append(
                    f"{item['image']}: image has {image[3]} channels (shape {image}), expected {num_channels}"
                )
        label = shapes.get("label")
        if label is not None:
            if not (len(label) == 3 or (len(label) == 4 and label[3] == 1)):
                problems.append(f"{item['label']}: label shape {label}, expected 3D (X, Y, Z)")
            elif image is not None and label[:3] != image[:3]:
                problems.append(
                    f"{item['label']}: label spatial shape {label[:3]} differs from image {item['image']} "
                    f"spatial shape {image[:3]}"
                )
            elif (
                image is not None
                and {"label", "image"} <= affines.keys()
                and not np.allclose(affines["label"], affines["image"], atol=_AFFINE_TOLERANCE)
            ):
                spacing = [np.linalg.norm(affines[k][:3, :3], axis=0).round(4).tolist() for k in ("label", "image")]
                problems.append(
                    f"{item['label']}: label affine differs from image {item['image']} (spacing {spacing[0]} vs "
                    f"{spacing[1]} mm; origin {affines['label'][:3, 3].round(3).tolist()} vs "
                    f"{affines['image'][:3, 3].round(3).tolist()})"
                )
    _raise_all(problems, "volume(s) with a bad header")


def load_msd_datalist(
    dataset_dir: str | os.PathLike,
    section: str = "training",
    check_files: bool = True,
    check_headers: bool = True,
    num_channels: int | None = 4,
    allow_outside_paths: bool = False,
) -> list[dict]:
    """Read one section of an MSD ``dataset.json`` as a MONAI data list, checked before any training starts.

    Paths in ``dataset.json`` (``"./imagesTr/BRATS_001.nii.gz"``) are resolved against ``dataset_dir``.
    Training entries become ``{"image": abs_path, "label": abs_path, "case_id": "BRATS_001"}``; the MSD
    ``test`` list holds plain strings, whose entries become ``{"image": abs_path, "case_id": ...}``.

    Args:
        dataset_dir: MSD task folder holding ``dataset.json`` (e.g. ``Task01_BrainTumour/``).
        section: list to read: ``"training"`` or ``"test"`` (or any other list in the file).
        check_files: check that every listed file exists.
        check_headers: check shapes from the NIfTI headers (see :func:`check_msd_headers`); implies the
            existence check.
        num_channels: image channels expected by the header check (MSD Task01: 4).
        allow_outside_paths: accept paths that lead out of ``dataset_dir`` (``../other_set/imagesTr/x.nii.gz``);
            by default they are an error, so that a data set never silently reads another one's files.

    Returns:
        A list of dictionaries, in the order of ``dataset.json``.

    Raises:
        DatasetError: ``dataset.json`` missing, not valid JSON, without ``training`` or ``section``, an entry
            without ``image`` (or ``label`` in ``training``), a path outside ``dataset_dir``, a case listed twice,
            a listed file missing, or a bad header. The message names the offending file(s).
    """
    root = Path(dataset_dir).expanduser().absolute()
    meta = read_msd_dataset_json(root)
    json_path = root / "dataset.json"
    datalist = _entries(meta, section, json_path, root, allow_outside_paths=allow_outside_paths)
    if check_files or check_headers:
        check_msd_files(datalist, source=json_path)
    if check_headers:
        check_msd_headers(datalist, num_channels=num_channels)
    return datalist


def _case_of(item: dict) -> str:
    return str(item["case_id"]) if "case_id" in item else case_id_from_path(item["image"])


def split_by_case(datalist: Sequence[dict], val_fraction: float = 0.2, seed: int = 0) -> tuple[list, list]:
    """Split a data list into training and validation parts by case, deterministically.

    All items of one case (same ``case_id``, else the same image file name) go to the same side, so slices of
    a volume never leak across the split. Cases are ranked by SHA-256 of ``"{seed}/{case_id}"``, which does not
    depend on the Python version, hash randomisation or list order; the first ``round(val_fraction * cases)``
    form the validation part (at least one when ``val_fraction > 0`` and there are two or more cases, and at
    least one case is left for training). Adding a case moves few others.

    Args:
        datalist: dictionaries with ``case_id`` (or ``image``), e.g. from :func:`load_msd_datalist`.
        val_fraction: fraction of cases for validation, in [0, 1).
        seed: changes the split; the same seed always gives the same split.

    Returns:
        ``(train, val)`` lists holding the input dictionaries in their original order.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    cases = sorted({_case_of(item) for item in datalist})
    num_val = 0
    if val_fraction > 0 and len(cases) >= 2:
        num_val = min(max(1, math.floor(val_fraction * len(cases) + 0.5)), len(cases) - 1)
    ranked = sorted(cases, key=lambda case: hashlib.sha256(f"{seed}/{case}".encode()).hexdigest())
    val_cases = set(ranked[:num_val])
    train = [item for item in datalist if _case_of(item) not in val_cases]
    val = [item for item in datalist if _case_of(item) in val_cases]
    return train, val
