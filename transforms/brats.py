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

import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import Crop, InvertibleTransform, MapTransform

from data.errors import DatasetError
from transforms.checks import ReportsLastFailure, _source_of
from transforms.image_headers import ITK_SUFFIXES, NIFTI_SUFFIXES, image_suffix, read_image_shape
from transforms.splits import split_by_group

__all__ = [
    "BRATS_DEFAULT_MODALITIES",
    "BRATS_LABELS",
    "BRATS_LABEL_NAMES",
    "BRATS_MODALITIES",
    "BRATS_SPLIT",
    "BRATS_TARGET_LABELS",
    "KeepSlicesd",
    "case_output_name",
    "find_brats_case_files",
    "load_brats_datalist",
    "split_brats",
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
_MAX_LISTED = 20


def _volume_named(folder: Path, case_id: str, part: str) -> str | None:
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


def _segmentation_in(folder: Path, case_id: str) -> str | None:
    """The ``_seg`` volume; else the only volume whose name holds ``seg`` (one real case's file is ``*_Segm.nii``)."""
    found = _volume_named(folder, case_id, "seg")
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
        path = _volume_named(folder, case_id, modality)
        images.append(path)
        if path is None:
            missing.append(f"{case_id}_{modality}.nii.gz")
    label = _segmentation_in(folder, case_id) if with_label else None
    if with_label and label is None:
        missing.append(f"{case_id}_seg.nii.gz")
    if missing:
        raise DatasetError(f"{folder}: missing {', '.join(missing)} (or .nii/.nrrd/.mha, or a DICOM folder).")
    item: dict[str, Any] = {"image": images, "case_id": case_id}
    if with_label:
        item["label"] = label
    return item


def _check_case_headers(item: Mapping[str, Any]) -> list[str]:
    """Problems with the shapes of one case: every volume 3D and all of one shape (headers only)."""
    paths = list(item["image"]) + ([item["label"]] if "label" in item else [])
    problems, shapes = [], {}
    for path in paths:
        try:
            shape = read_image_shape(path)
        except DatasetError as err:
            problems.append(str(err))
            continue
        if len(shape) != 3:
            problems.append(f"{path}: shape {shape} is {len(shape)}D, expected a 3D volume (X, Y, Z)")
            continue
        shapes[path] = shape
    if len(set(shapes.values())) > 1:
        reference, reference_shape = next(iter(shapes.items()))
        for path, shape in shapes.items():
            if shape != reference_shape:
                problems.append(
                    f"{path}: shape {shape} differs from {reference_shape} of {Path(reference).name} (volumes of "
                    f"case {item['case_id']} differ in shape)"
                )
    return problems


def load_brats_datalist(
    dataset_dir: str | os.PathLike,
    modalities: Sequence[str] = BRATS_DEFAULT_MODALITIES,
    with_label: bool = True,
    check_headers: bool = True,
) -> list[dict[str, Any]]:
    """MONAI data list of a BraTS2020 folder (``MICCAI_BraTS2020_TrainingData/`` or its validation twin).

    Every sub-folder holding at least one ``<folder>_<modality>`` volume is a case; other entries
    (``name_mapping.csv``, ``survival_info.csv``, stray folders) are ignored. Each item is
    ``{"image": [one path per modality], "label": seg path, "case_id": "BraTS20_Training_001"}``; MONAI's
    ``LoadImaged`` reads the list of paths and stacks the modalities as channels, in the order of
    ``modalities``. Volumes may be NIfTI (``.nii.gz``, ``.nii``; nibabel) or ``.nrrd``/``.mha``/``.mhd``/DICOM
    series folders (ITK), as ``LoadImaged`` picks the reader by suffix.

    Args:
        dataset_dir: folder holding the case folders.
        modalities: which modalities, in channel order. Default FLAIR and T1ce (see the module docstring);
            seed 001 uses two, any subset of ``("flair", "t1", "t1ce", "t2")`` works.
        with_label: require and list the ``_seg`` volume (False for the validation release).
        check_headers: read every header (no voxel data) and check that each volume is 3D and all volumes of
            a case have one shape.

    Returns:
        Items sorted by case id.

    Raises:
        DatasetError: the folder is missing or holds no case, a case lacks a volume, or a header is bad or
            inconsistent; every problem (up to 20) is listed with its file.
        ValueError: an unknown modality name.
    """
    unknown = [m for m in modalities if m not in BRATS_MODALITIES]
    if unknown or not modalities:
        raise ValueError(f"modalities must be a non-empty subset of {BRATS_MODALITIES}, got {list(modalities)}.")
    root = Path(dataset_dir).expanduser().absolute()
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder; dataset_dir must hold the BraTS20_Training_NNN case folders.")
    datalist, problems = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if not any(_volume_named(folder, folder.name, m) for m in BRATS_MODALITIES):
            continue
        try:
            item = find_brats_case_files(folder, modalities, with_label)
        except DatasetError as err:
            problems.append(str(err))
            continue
        if check_headers:
            problems.extend(_check_case_headers(item))
        datalist.append(item)
    if problems:
        more = len(problems) - _MAX_LISTED
        shown = problems[:_MAX_LISTED] + ([f"... and {more} more"] if more > 0 else [])
        raise DatasetError(f"{len(problems)} problem(s) in the BraTS folder {root}:\n  " + "\n  ".join(shown))
    if not datalist:
        raise DatasetError(
            f"{root}: no case folder found (expected BraTS20_Training_NNN/ holding BraTS20_Training_NNN_flair.nii.gz, "
            "..._t1, ..._t1ce, ..._t2, ..._seg)."
        )
    return datalist


def case_output_name(metadict: Mapping[str, Any] | None, saver: Any = None) -> dict[str, Any]:
    """Output name of a prediction: the case folder's name (``BraTS20_Training_001``), as a BraTS submission.

    A ``name_formatter`` for MONAI's ``SaveImage(d)``: the image's ``filename_or_obj`` is the first modality's file
    (``.../BraTS20_Training_001/BraTS20_Training_001_flair.nii.gz``); its folder names the case. With
    ``output_postfix=""`` the prediction is written as ``<output_dir>/BraTS20_Training_001.nii.gz``.

    Args:
        metadict: the image's metadata (``filename_or_obj``).
        saver: the saving transform (unused; part of MONAI's formatter signature).

    Returns:
        ``{"subject": case id, "idx": None}`` for ``FolderLayout.filename``.

    Raises:
        ValueError: no ``filename_or_obj`` in ``metadict``.
    """
    source = (metadict or {}).get("filename_or_obj")
    if not source:
        raise ValueError("cannot name the prediction: the image has no filename_or_obj in its metadata.")
    if isinstance(source, (list, tuple)):
        source = source[0]
    return {"subject": Path(str(source)).parent.name, "idx": None}


def split_brats(
    datalist: Sequence[dict], fractions: Sequence[float] = BRATS_SPLIT, seed: int | str = 0
) -> tuple[list[dict], ...]:
    """Training / validation / test parts by case: seed 001's 250/74/45 of 369, as fractions for other sizes.

    See :func:`transforms.split_by_group`; with the 369 real cases the parts have exactly 250, 74 and 45 cases.
    """
    return split_by_group(datalist, fractions, group_key="case_id", seed=seed)


class KeepSlicesd(ReportsLastFailure, MapTransform, InvertibleTransform):
    """Keep the slice range ``[start, stop)`` along one spatial axis of channel-first volumes (seed 001: axial
    slices 5-150, i.e. 145 slices), clipped to the volume.

    The range is clipped to each volume (``stop`` past the end keeps up to the last slice), so the same setting
    serves the real 155-slice volumes and small synthetic ones. The crop is MONAI's ``Crop``: it updates the
    affine of a ``MetaTensor`` and is undone by :meth:`inverse` (padding with zeros), e.g. to write a
    prediction with the geometry of the input volume.

    Args:
        keys: keys of the volumes, shape (C, X, Y, Z); all must have the same size along ``axis``.
        axis: spatial axis (0-based, channel excluded); 2 is axial for BraTS NIfTI.
        start: first slice kept.
        stop: one past the last slice kept (``None``: to the end).
        allow_missing_keys: skip absent keys.

    Raises:
        DatasetError: (when called) no slice is left after clipping, or the keys differ in size along ``axis``;
            the message names the file.
    """

    def __init__(
        self,
        keys: KeysCollection,
        axis: int = 2,
        start: int = 5,
        stop: int | None = 150,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if start < 0 or (stop is not None and stop <= start):
            raise ValueError(f"need 0 <= start < stop, got start={start}, stop={stop}.")
        self.axis, self.start, self.stop = int(axis), int(start), stop
        self.cropper = Crop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={self.keys}, axis={self.axis}, start={self.start}, stop={self.stop})"

    def slices_for(self, depth: int) -> slice:
        """The kept range for a volume of ``depth`` slices along ``axis``, clipped."""
        stop = depth if self.stop is None else min(int(self.stop), depth)
        return slice(min(self.start, depth), stop)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        self._clear_failure()
        d = dict(data)
        try:
            depths = {key: int(d[key].shape[self.axis + 1]) for key in self.key_iterator(d)}
            if len(set(depths.values())) > 1:
                raise DatasetError(
                    f"{_source_of(d, next(iter(depths)))}: volumes differ in size along axis {self.axis}: {depths}."
                )
            for key, depth in depths.items():
                kept = self.slices_for(depth)
                if kept.stop <= kept.start:
                    raise DatasetError(
                        f"{_source_of(d, key)}: {depth} slice(s) along axis {self.axis}, none in the range "
                        f"[{self.start}, {self.stop})."
                    )
                roi = [slice(None)] * (d[key].ndim - 1)
                roi[self.axis] = kept
                d[key] = self.cropper(d[key], tuple(roi))
        except DatasetError as err:
            self._record_failure(str(err))
            raise
        return d

    def inverse(self, data: Mapping[Hashable, MetaTensor]) -> dict[Hashable, MetaTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.cropper.inverse(d[key])
        return d
