"""Conversion between the two common on-disk layouts of segmentation data sets, from the files and
``dataset.json`` alone (no format plug-in needed):

- MSD (Medical Segmentation Decathlon): ``TaskXX_Name/{imagesTr,labelsTr,imagesTs}/{case}.nii.gz``, one 4D NIfTI
  (X, Y, Z, C) per case (3D for one modality); ``dataset.json`` with ``modality``, ``labels`` (value -> name),
  ``training`` / ``test`` lists;
- nnU-Net v2 raw: ``DatasetXXX_Name/{imagesTr,labelsTr,imagesTs}/{case}_{XXXX}.nii.gz``, one 3D file per channel;
  ``dataset.json`` with ``channel_names``, ``labels`` (name -> value, or list of values for regions),
  ``numTraining``, ``file_ending``.

Voxels, affines and headers are kept (channels split from / stacked into the 4D file with channel 0's header);
label files are copied byte for byte. nnU-Net region labels, which MSD cannot express, travel in MSD's
``dataset.json`` as the extra key ``nnunet_regions`` and come back on the return trip. Nothing is written into the
source folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from data.errors import DatasetError

__all__ = ["convert_dataset", "detect_layout", "msd_to_nnunet", "nnunet_to_msd"]

_NIFTI = (".nii.gz", ".nii")


def _read_json(root: Path) -> dict:
    path = root / "dataset.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: cannot be read as JSON ({exc}); a data set folder needs dataset.json.") from exc
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: must hold a JSON object.")
    return meta


def detect_layout(root: str | os.PathLike) -> str:
    """``"msd"`` or ``"nnunet_v2"`` from ``root/dataset.json``'s keys.

    Raises:
        DatasetError: naming dataset.json when it is neither.
    """
    meta = _read_json(Path(root))
    if "channel_names" in meta and "file_ending" in meta:
        return "nnunet_v2"
    if "modality" in meta and "training" in meta:
        return "msd"
    raise DatasetError(
        f"{Path(root) / 'dataset.json'}: neither MSD (modality, training) nor nnU-Net v2 (channel_names, "
        "file_ending); name the layout with --from."
    )


def _out_folder(out_parent: Path, name: str, src: Path, overwrite: bool) -> Path:
    out = (out_parent / name).absolute()
    if out == src.absolute() or src.absolute() in out.parents:
        raise DatasetError(f"{out}: the output may not be inside the source data set {src}; choose another folder.")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise DatasetError(f"{out}: exists and is not empty; remove it or pass --overwrite.")
        shutil.rmtree(out)
    for sub in ("imagesTr", "labelsTr"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    return out


def _strip(name: str) -> str:
    for ending in _NIFTI:
        if name.endswith(ending):
            return name[: -len(ending)]
    return name


def _resolve(root: Path, rel: str) -> Path:
    path = (root / rel).resolve() if not os.path.isabs(rel) else Path(rel)
    if not path.is_file():
        raise DatasetError(f"{path}: listed in {root / 'dataset.json'} but missing; fix the list or add the file.")
    return path


def _copy_label(src: Path, dst: Path) -> None:
    """Byte copy of a .nii.gz label; a .nii label is saved gzipped (same voxels and header)."""
    if src.name.endswith(".nii.gz"):
        shutil.copyfile(src, dst)
        return
    import nibabel as nib

    nib.save(nib.load(str(src)), str(dst))


def _split_name(name: str, prefix: str, new_prefix: str, width: int, dataset_id: int | None) -> str:
    m = re.match(rf"^{prefix}(\d+)_(.+)$", name)
    number, rest = (int(m[1]), m[2]) if m else (None, name)
    number = dataset_id if dataset_id is not None else (number if number is not None else 999)
    return f"{new_prefix}{number:0{width}d}_{rest}"


def msd_to_nnunet(src: str | os.PathLike, out_parent: str | os.PathLike, dataset_id: int | None = None,
                  name: str | None = None, overwrite: bool = False) -> Path:
    """Convert an MSD task folder into nnU-Net v2's layout under ``out_parent`` (``DatasetXXX_Name``).

    Args:
        src: the MSD folder (``TaskXX_Name`` with dataset.json).
        out_parent: where the new folder is made.
        dataset_id: nnU-Net's 3-digit id (default: the task number, else 999).
        name: the new folder's name (default ``Dataset{id:03d}_{Name}``).
        overwrite: replace a non-empty output folder.

    Returns:
        The new data set folder.
    """
    import nibabel as nib

    src = Path(src).absolute()
    meta = _read_json(src)
    for key in ("modality", "labels", "training"):
        if key not in meta:
            raise DatasetError(f"{src / 'dataset.json'}: MSD's dataset.json needs {key!r}.")
    channels = {int(k): str(v) for k, v in meta["modality"].items()}
    out = _out_folder(Path(out_parent), name or _split_name(src.name, "Task", "Dataset", 3, dataset_id), src, overwrite)

    def write_channels(image: Path, sub: str) -> None:
        img = nib.load(str(image))
        arr = np.asanyarray(img.dataobj)
        if arr.ndim == 3:
            arr = arr[..., None]
        if arr.ndim != 4 or arr.shape[3] != len(channels):
            raise DatasetError(
                f"{image}: shape {arr.shape} but dataset.json declares {len(channels)} modalit(y/ies); MSD images are "
                "(X, Y, Z, C) or (X, Y, Z) for one modality."
            )
        case = _strip(image.name)
        for c in range(arr.shape[3]):
            header = img.header.copy()
            header.set_data_dtype(img.get_data_dtype())
            out_img = nib.Nifti1Image(np.ascontiguousarray(arr[..., c]), img.affine, header)
            nib.save(out_img, str(out / sub / f"{case}_{c:04d}.nii.gz"))

    training = meta["training"]
    for entry in training:
        image, label = _resolve(src, entry["image"]), _resolve(src, entry["label"])
        write_channels(image, "imagesTr")
        _copy_label(label, out / "labelsTr" / f"{_strip(label.name)}.nii.gz")
    test = meta.get("test", [])
    if test:
        (out / "imagesTs").mkdir(exist_ok=True)
    for entry in test:
        write_channels(_resolve(src, entry if isinstance(entry, str) else entry["image"]), "imagesTs")
    regions = meta.get("nnunet_regions")
    labels: dict[str, Any] = regions["labels"] if regions else {str(v): int(k) for k, v in meta["labels"].items()}
    new = {
        "name": meta.get("name", src.name),
        "description": meta.get("description", ""),
        "reference": meta.get("reference", ""),
        "licence": meta.get("licence", ""),
        "channel_names": {str(k): v for k, v in sorted(channels.items())},
        "labels": labels,
        "numTraining": len(training),
        "file_ending": ".nii.gz",
    }
    if regions:
        new["regions_class_order"] = regions["regions_class_order"]
    (out / "dataset.json").write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
    return out


def nnunet_to_msd(src: str | os.PathLike, out_parent: str | os.PathLike, dataset_id: int | None = None,
                  name: str | None = None, overwrite: bool = False) -> Path:
    """Convert an nnU-Net v2 raw folder (NIfTI files) into MSD's layout under ``out_parent`` (``TaskXX_Name``).

    Channels are stacked into one 4D NIfTI per case (3D for one channel) with channel 0's affine and header.

    Raises:
        DatasetError: the files are not NIfTI (MSD holds NIfTI only), or a case's channels have different shapes.
    """
    import nibabel as nib

    src = Path(src).absolute()
    meta = _read_json(src)
    ending = meta.get("file_ending")
    if ending not in _NIFTI:
        raise DatasetError(
            f"{src / 'dataset.json'}: file_ending {ending!r}; the MSD layout holds NIfTI only (.nii.gz) - convert "
            "the files to NIfTI first."
        )
    channels = {int(k): str(v) for k, v in meta["channel_names"].items()}
    num = len(channels)
    out = _out_folder(Path(out_parent), name or _split_name(src.name, "Dataset", "Task", 2, dataset_id), src, overwrite)
    pattern = re.compile(r"^(.+)_(\d{4})" + re.escape(ending) + "$")

    def cases(folder: Path) -> list[str]:
        return sorted({m[1] for f in folder.iterdir() if (m := pattern.match(f.name))}) if folder.is_dir() else []

    def stack(case: str, folder: Path, sub: str) -> str:
        files = [folder / f"{case}_{c:04d}{ending}" for c in range(num)]
        for f in files:
            if not f.is_file():
                raise DatasetError(f"{f}: missing; case {case!r} needs {num} channel files.")
        imgs = [nib.load(str(f)) for f in files]
        arrays = [np.asanyarray(i.dataobj) for i in imgs]
        for f, a in zip(files, arrays):
            if a.shape != arrays[0].shape:
                raise DatasetError(f"{f}: shape {a.shape} differs from channel 0's {arrays[0].shape}; resample it.")
        arr = arrays[0] if num == 1 else np.stack(arrays, axis=-1)
        header = imgs[0].header.copy()
        header.set_data_dtype(imgs[0].get_data_dtype())
        nib.save(nib.Nifti1Image(arr, imgs[0].affine, header), str(out / sub / f"{case}.nii.gz"))
        return f"./{sub}/{case}.nii.gz"

    training = []
    for case in cases(src / "imagesTr"):
        label = src / "labelsTr" / f"{case}{ending}"
        if not label.is_file():
            raise DatasetError(f"{label}: missing; every training case needs its label.")
        image = stack(case, src / "imagesTr", "imagesTr")
        _copy_label(label, out / "labelsTr" / f"{case}.nii.gz")
        training.append({"image": image, "label": f"./labelsTr/{case}.nii.gz"})
    test_cases = cases(src / "imagesTs")
    if test_cases:
        (out / "imagesTs").mkdir(exist_ok=True)
    test = [stack(case, src / "imagesTs", "imagesTs") for case in test_cases]
    labels = meta["labels"]
    region_based = any(isinstance(v, list) for v in labels.values())
    values = sorted({x for v in labels.values() for x in (v if isinstance(v, list) else [v])})
    if region_based:  # MSD names values; the regions ride along for the way back
        names = {v: k for k, v in labels.items() if not isinstance(v, list)}
        msd_labels = {str(v): names.get(v, "background" if v == 0 else f"label {v}") for v in values}
    else:
        msd_labels = {str(v): k for k, v in sorted(labels.items(), key=lambda kv: kv[1])}
    new: dict[str, Any] = {
        "name": meta.get("name", src.name),
        "description": meta.get("description", ""),
        "reference": meta.get("reference", ""),
        "licence": meta.get("licence", ""),
        "tensorImageSize": "4D" if num > 1 else "3D",
        "modality": {str(k): v for k, v in sorted(channels.items())},
        "labels": msd_labels,
        "numTraining": len(training),
        "numTest": len(test),
        "training": training,
        "test": test,
    }
    if region_based:
        new["nnunet_regions"] = {"labels": labels, "regions_class_order": meta.get("regions_class_order")}
    (out / "dataset.json").write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
    return out


def convert_dataset(
    src: str | os.PathLike, out_parent: str | os.PathLike, to: str | None = None, **options: Any
) -> Path:
    """Convert ``src`` into the other layout (or ``to``: ``"msd"`` / ``"nnunet_v2"``); options as the converters.

    Raises:
        DatasetError: ``src`` is already in layout ``to``, or in no known layout.
    """
    layout = detect_layout(src)
    to = to or ("msd" if layout == "nnunet_v2" else "nnunet_v2")
    if to == layout:
        raise DatasetError(f"{src}: is already in the {layout} layout.")
    if to not in ("msd", "nnunet_v2"):
        raise ValueError(f"unknown layout {to!r}; valid: msd, nnunet_v2.")
    return (nnunet_to_msd if to == "msd" else msd_to_nnunet)(src, out_parent, **options)
