"""A preprocessed, memory-mapped slice store: each case decoded, normalised and cropped once, then read slice by slice.

Training on all of MSD Task01 (484 cases x 155 slices x 4 modalities) from an in-memory cache needs ~70 GB of
decoded float32; the store (the answer of nnU-Net's preprocessing) keeps it on disk instead:

* :func:`write_slice_store` runs the bundle's deterministic volume transforms (load, check, label mapping,
  standardisation; *not* the in-plane crop to ``roi_size``) on each case once, crops the result to the bounding
  box of its non-zero voxels (brain, and any labelled voxel), and writes per case

  - ``<case>_image.npy``: float16, shape (S, C, X', Y') with the slicing axis first, so that a slice is one
    contiguous read;
  - ``<case>_label.npy``: uint8, shape (S, X', Y') (label channel 1 only);
  - ``<case>.json``: geometry (affine, original shape, crop box), the slicing axis, the source files with their
    size and modification time (every file of a list, e.g. BraTS's one file per modality; a changed source is
    written again), and the measured quantisation error.

* :class:`SliceStore` opens a store (and, given ``data`` and ``transform``, writes the cases it lacks);
  :class:`StoreSliceDataset` samples 2D slices and :class:`StoreVolumeDataset` whole volumes from it. Every read
  maps the file (``np.memmap``), copies what it needs and unmaps it again, so no mapped page stays resident:
  the peak memory of training does not grow with the number of cases.

Both datasets return what the in-memory pipeline returns after its centre crop/pad to ``roi_size``
(``ResizeWithPadOrCropd``): the same slices in the same frame, so training, validation and metrics are those of
the cached pipeline. Voxels outside the crop box are exactly 0 there too (the background stays 0 after
standardisation over non-zero voxels).

Quantisation error: float16 keeps 11 significant bits, so each stored intensity ``x`` is read back as ``x'`` with
``|x' - x| <= 2**-11 * |x|`` (0.049 % relative; for a standardised intensity below 16 that is at most 0.0039),
and ``|x' - x| <= 2**-25`` for ``|x| < 2**-14``. Labels are stored exactly. Values beyond the float16 range
(|x| > 65504) are refused with an error naming the case.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import apply_transform
from torch.utils.data import Dataset
from tqdm import tqdm

from data.errors import DatasetError
from data.headers import case_id_from_path

__all__ = [
    "FLOAT16_RELATIVE_ERROR",
    "SliceStore",
    "StoreSliceDataset",
    "StoreVolumeDataset",
    "centre_window",
    "write_slice_store",
]

FORMAT_VERSION = 1
# round-to-nearest float16: half a unit in the last of 11 significant bits
FLOAT16_RELATIVE_ERROR = 2.0**-11
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def _case_id(item: Mapping[str, Any] | str) -> str:
    if isinstance(item, str):
        return item
    if "case_id" in item:
        return str(item["case_id"])
    image = item["image"]
    # a list of files (one per modality): the first names the case
    return case_id_from_path(image[0] if isinstance(image, (list, tuple)) else image)


def _stat(path: Any) -> list[int] | None:
    """``[size, mtime_ns]`` of a file; of a folder (a DICOM series), the total size and latest mtime of the files in
    it and their number; None for what is not on disk."""
    try:
        if os.path.isdir(str(path)):
            files = [f for f in sorted(Path(path).rglob("*")) if f.is_file()]
            stats = [f.stat() for f in files]
            newest = max((int(st.st_mtime_ns) for st in stats), default=0)
            return [sum(int(st.st_size) for st in stats), newest, len(files)]
        st = os.stat(str(path))
    except (OSError, TypeError):
        return None
    return [int(st.st_size), int(st.st_mtime_ns)]


def _source(value: Any) -> list:
    """Provenance of one datalist entry: ``[path, stat]`` for a path (the layout of format 1), ``[[path, ...],
    [stat, ...]]`` for a list of paths (BraTS: one file per modality), so that a change to any of them is seen."""
    if isinstance(value, (list, tuple)):
        return [[str(v) for v in value], [_stat(v) for v in value]]
    return [str(value), _stat(value)]


def _first_path(entry: Sequence) -> str:
    """The (first) source file of a ``sources`` entry written by :func:`_source`."""
    path = entry[0]
    return str(path[0]) if isinstance(path, list) and path else str(path)


def _names(entry: Sequence) -> str:
    """The source file(s) of a ``sources`` entry, for error messages."""
    return ", ".join(entry[0]) if isinstance(entry[0], list) else str(entry[0])


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, MetaTensor):
        x = x.as_tensor()
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def nonzero_box(image: np.ndarray, label: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Bounding box ``[(start, stop), ...]`` per spatial axis of the voxels where any channel of ``image`` (C, ...)
    or ``label`` is non-zero; an empty volume gives the empty box ``(0, 0)`` on every axis."""
    mask = np.any(image != 0, axis=0)
    if label is not None:
        mask |= np.any(label != 0, axis=0)
    box = []
    for axis in range(mask.ndim):
        hit = np.flatnonzero(np.any(mask, axis=tuple(a for a in range(mask.ndim) if a != axis)))
        box.append((int(hit[0]), int(hit[-1]) + 1) if hit.size else (0, 0))
    return box


def centre_window(size: int, roi: int) -> int:
    """Input index of output index 0 after MONAI's ``ResizeWithPadOrCrop`` of an axis of ``size`` to ``roi``.

    Symmetric padding puts ``(roi - size) // 2`` zeros before a short axis; the centre crop of a long axis starts
    at ``size // 2 - roi // 2``. ``roi <= 0`` keeps the axis (returns 0). Output index ``i`` shows input index
    ``i + centre_window(size, roi)`` where that lies in ``[0, size)``, else 0.
    """
    if roi <= 0 or roi == size:
        return 0
    if size > roi:
        return size // 2 - roi // 2
    return -((roi - size) // 2)


def write_slice_store(
    data: Sequence[Mapping[str, Any]],
    store_dir: str | os.PathLike,
    transform: Callable,
    image_key: str = "image",
    label_key: str = "label",
    axis: int = 2,
    overwrite: bool = False,
    progress: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> list[str]:
    """Write every case of ``data`` not yet in ``store_dir`` (or whose source files changed) into the store.

    Args:
        data: datalist items ``{"image": path, "label": path, "case_id": ...}`` (``case_id`` defaults to the image
            file name without ``.nii.gz``); ``image`` may be a list of paths (one per modality, as BraTS's).
        store_dir: folder of the store (created).
        transform: deterministic pre-processing applied to each item; it must return channel-first ``image``
            (C, X, Y, Z) and ``label`` (1, X, Y, Z) in the geometry of the source (no crop), as the bundle's
            volume transforms without the final ``ResizeWithPadOrCropd`` do.
        image_key, label_key: keys of image and label.
        axis: spatial axis (0-based, channel excluded) that slices are taken along; 2 = axial for MSD NIfTI.
        overwrite: write every case again.
        progress: show a progress bar.
        settings: JSON-serialisable parameters of ``transform`` that shape what is stored (e.g. BraTS's image size
            and slice range); recorded per case, and a case stored with other settings is written again.

    Returns:
        The case ids written (not those skipped as up to date).

    Raises:
        DatasetError: naming the case and file, for a label that is missing or not integer in [0, 255], shapes
            that disagree, or intensities outside the float16 range. Errors of ``transform`` propagate.
    """
    store = Path(store_dir)
    store.mkdir(parents=True, exist_ok=True)
    settings = None if settings is None else json.loads(json.dumps(settings))  # as read back from the json
    written = []
    todo = list(data)
    for item in tqdm(todo, desc="Writing slice store", disable=not progress or not todo):
        case = _case_id(item)
        sources = {k: _source(item[k]) for k in (image_key, label_key) if k in item}
        meta_path = store / f"{case}.json"
        if not overwrite and meta_path.is_file():
            try:
                old = json.loads(meta_path.read_text())
            except ValueError:
                old = {}
            if (
                old.get("format") == FORMAT_VERSION
                and old.get("axis") == axis
                and old.get("settings") == settings
                and old.get("sources") == sources
            ):
                continue
        out = apply_transform(transform, dict(item))
        source = _names(sources[image_key]) if image_key in sources else case
        if label_key not in out:
            raise DatasetError(f"{source}: case {case} has no {label_key!r}; the slice store holds labelled cases")
        image = _numpy(out[image_key]).astype(np.float32, copy=False)
        label = _numpy(out[label_key])
        if image.ndim != 4 or label.ndim != 4 or label.shape[0] != 1 or image.shape[1:] != label.shape[1:]:
            raise DatasetError(
                f"{source}: expected image (C, X, Y, Z) and label (1, X, Y, Z) of one spatial shape after the "
                f"transform, got {image.shape} and {label.shape}"
            )
        if label.size and (label.min() < 0 or label.max() > 255 or np.any(label != np.round(label))):
            raise DatasetError(f"{source}: label values must be integers in [0, 255] to be stored as uint8")
        if not np.all(np.isfinite(image)) or (image.size and np.abs(image).max() > _FLOAT16_MAX):
            raise DatasetError(f"{source}: intensities are not finite or exceed the float16 range (|x| > 65504)")
        box = nonzero_box(image, label)
        crop = (slice(None),) + tuple(slice(a, b) for a, b in box)
        # slicing axis first: (S, C, ...) and (S, ...)
        image_c = np.moveaxis(image[crop], axis + 1, 0)
        label_c = np.moveaxis(label[crop][0], axis, 0)
        image16 = np.ascontiguousarray(image_c, dtype=np.float16)
        error = float(np.abs(image16.astype(np.float32) - image_c).max()) if image16.size else 0.0
        affine = getattr(out[image_key], "meta", {}).get("affine", None)
        meta = {
            "format": FORMAT_VERSION,
            "case_id": case,
            "axis": axis,
            "channels": int(image.shape[0]),
            "original_shape": [int(s) for s in image.shape[1:]],
            "box": [[a, b] for a, b in box],
            "affine": None if affine is None else _numpy(affine).astype(float).tolist(),
            "image_dtype": "float16",
            "max_abs_error": error,
            "settings": settings,
            "sources": sources,
        }
        # temporary names of this process: writers that race (e.g. two jobs on one store) never mix their files
        for suffix, array in (("image", image16), ("label", np.ascontiguousarray(label_c, dtype=np.uint8))):
            tmp = store / f"{case}_{suffix}.{os.getpid()}.tmp.npy"
            np.save(tmp, array)
            os.replace(tmp, store / f"{case}_{suffix}.npy")
        tmp = store / f"{case}.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, meta_path)  # last: a case counts as stored once its json exists
        written.append(case)
    return written


class _Mapped:
    """Where one stored array lies in its ``.npy`` file, read once from the header; ``open()`` maps it read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            self.offset = f.tell()
        if fortran:
            raise DatasetError(f"{path}: stored array is Fortran-ordered; write the store again")
        self.shape, self.dtype = tuple(shape), dtype

    def open(self) -> np.ndarray:
        if 0 in self.shape:
            return np.zeros(self.shape, self.dtype)
        return np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape)


class SliceStore:
    """Handle on a slice store folder (see the module docstring for its layout).

    Given ``data`` and ``transform``, the cases of ``data`` the store lacks (or whose source files changed) are
    written first with :func:`write_slice_store`, so a bundle can declare the store and build it on first use.
    Without them, an existing store is opened as it is. In a distributed run (``torch.distributed`` initialised),
    rank 0 writes and the other ranks wait for it at a barrier before opening the store.

    Args:
        store_dir: folder of the store.
        data: datalist items to make sure are stored (optional).
        transform: their pre-processing (required with ``data``; see :func:`write_slice_store`).
        image_key, label_key, axis, overwrite, progress, settings: as in :func:`write_slice_store`.

    Raises:
        DatasetError: naming the folder, if it holds no stored case; naming the file, for a broken case.
    """

    def __init__(
        self,
        store_dir: str | os.PathLike,
        data: Sequence[Mapping[str, Any]] | None = None,
        transform: Callable | None = None,
        image_key: str = "image",
        label_key: str = "label",
        axis: int = 2,
        overwrite: bool = False,
        progress: bool = True,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        if not str(store_dir) or str(store_dir).lower() == "none":
            raise DatasetError("store_dir is not set: give the slice store folder (e.g. --store_dir /path/to/store)")
        self.store_dir = Path(store_dir)
        if data is not None:
            if transform is None:
                raise ValueError("SliceStore: `transform` is required to write the cases of `data`")
            distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
            if not distributed or torch.distributed.get_rank() == 0:
                write_slice_store(
                    data, self.store_dir, transform, image_key, label_key, axis, overwrite, progress, settings
                )
            if distributed:
                torch.distributed.barrier()
        self._meta: dict[str, dict] = {}
        self._arrays: dict[str, tuple[_Mapped, _Mapped]] = {}
        for path in sorted(self.store_dir.glob("*.json")) if self.store_dir.is_dir() else []:
            try:
                meta = json.loads(path.read_text())
            except ValueError as err:
                raise DatasetError(f"{path}: not a slice store case description ({err})") from err
            if meta.get("format") != FORMAT_VERSION:
                raise DatasetError(f"{path}: store format {meta.get('format')!r}, expected {FORMAT_VERSION}")
            self._meta[meta["case_id"]] = meta
        if not self._meta:
            raise DatasetError(f"{self.store_dir}: no stored case (write it with scripts/build_slice_store.py)")

    @property
    def case_ids(self) -> list[str]:
        """Ids of the stored cases, sorted."""
        return sorted(self._meta)

    def meta(self, case: str) -> dict:
        """Geometry and provenance of ``case`` (the content of ``<case>.json``)."""
        try:
            return self._meta[case]
        except KeyError:
            raise DatasetError(
                f"{self.store_dir}: case {case!r} is not stored ({len(self._meta)} cases, e.g. {self.case_ids[:3]})"
            ) from None

    def _mapped(self, case: str) -> tuple[_Mapped, _Mapped]:
        if case not in self._arrays:
            self.meta(case)
            arrays = tuple(_Mapped(self.store_dir / f"{case}_{s}.npy") for s in ("image", "label"))
            self._arrays[case] = arrays  # type: ignore[assignment]
        return self._arrays[case]

    def read_slice(self, case: str, index: int, window: Sequence[tuple[int, int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Slice ``index`` (in the source's geometry, along the store's axis) of ``case`` as float32 arrays.

        Args:
            case: case id.
            index: slice index in ``[0, original size along the axis)``.
            window: per in-plane axis ``(start, size)`` in source voxels (start may be negative: zero padding);
                None gives the whole source slice.

        Returns:
            ``image`` (C, *sizes) float32 and ``label`` (1, *sizes) float32; zero outside the crop box.
        """
        meta = self.meta(case)
        axis = meta["axis"]
        shape = meta["original_shape"]
        plane = [i for i in range(len(shape)) if i != axis]
        if window is None:
            window = [(0, shape[i]) for i in plane]
        if not 0 <= index < shape[axis]:
            raise IndexError(f"{case}: slice {index} out of range [0, {shape[axis]})")
        sizes = [int(w[1]) for w in window]
        image = np.zeros([meta["channels"], *sizes], np.float32)
        label = np.zeros([1, *sizes], np.float32)
        (s0, s1) = meta["box"][axis]
        if not s0 <= index < s1:
            return image, label
        src, dst = [], []
        for i, (start, size) in zip(plane, window):
            b0, b1 = meta["box"][i]
            lo, hi = max(b0, start), min(b1, start + size)
            if hi <= lo:
                return image, label
            src.append(slice(lo - b0, hi - b0))
            dst.append(slice(lo - start, hi - start))
        mapped_image, mapped_label = self._mapped(case)
        stored = mapped_image.open()
        image[(slice(None), *dst)] = stored[(index - s0, slice(None), *src)]
        del stored  # unmapped: no page of the store stays resident in this process
        stored = mapped_label.open()
        label[(0, *dst)] = stored[(index - s0, *src)]
        del stored
        return image, label

    def read_volume(self, case: str, window: Sequence[tuple[int, int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The whole volume of ``case`` in the source's axis order, (C, X, Y, Z) and (1, X, Y, Z) float32.

        ``window`` as in :meth:`read_slice` (in-plane axes only; the slicing axis is kept whole).
        """
        meta = self.meta(case)
        axis = meta["axis"]
        shape = meta["original_shape"]
        plane = [i for i in range(len(shape)) if i != axis]
        if window is None:
            window = [(0, shape[i]) for i in plane]
        out_shape = list(shape)
        for i, (_, size) in zip(plane, window):
            out_shape[i] = int(size)
        image = np.zeros([meta["channels"], *out_shape], np.float32)
        label = np.zeros([1, *out_shape], np.float32)
        box = meta["box"]
        src, dst = [None] * len(shape), [None] * len(shape)
        src[axis] = slice(0, box[axis][1] - box[axis][0])
        dst[axis] = slice(*box[axis])
        for i, (start, size) in zip(plane, window):
            b0, b1 = box[i]
            lo, hi = max(b0, start), min(b1, start + size)
            if hi <= lo or box[axis][1] <= box[axis][0]:
                return image, label
            src[i], dst[i] = slice(lo - b0, hi - b0), slice(lo - start, hi - start)
        mapped_image, mapped_label = self._mapped(case)
        stored = mapped_image.open()
        # stored (S, C, a, b) -> (C, ...) with the slicing axis back in place
        part = np.moveaxis(stored[(src[axis], slice(None), *[src[i] for i in plane])], 0, axis + 1)
        image[(slice(None), *dst)] = part
        del stored, part
        stored = mapped_label.open()
        label[(0, *dst)] = np.moveaxis(stored[(src[axis], *[src[i] for i in plane])], 0, axis)
        del stored
        return image, label

    def window(self, case: str, roi_size: Sequence[int] | None) -> list[tuple[int, int]]:
        """In-plane ``(start, size)`` of the centre crop/pad of ``case`` to ``roi_size`` (as ``ResizeWithPadOrCrop``;
        None or an entry <= 0 keeps that axis)."""
        meta = self.meta(case)
        shape = meta["original_shape"]
        plane = [shape[i] for i in range(len(shape)) if i != meta["axis"]]
        roi = [-1] * len(plane) if roi_size is None else [int(r) for r in roi_size][: len(plane)]
        if len(roi) != len(plane):
            raise ValueError(f"roi_size needs {len(plane)} in-plane sizes, got {roi_size}")
        return [(centre_window(n, r), n if r <= 0 else r) for n, r in zip(plane, roi)]

    def affine(self, case: str, window: Sequence[tuple[int, int]] | None = None) -> torch.Tensor:
        """Voxel-to-world affine of ``case`` (float64 (4, 4)), translated to the origin of ``window`` if given."""
        meta = self.meta(case)
        affine = np.asarray(meta["affine"] if meta["affine"] is not None else np.eye(4), dtype=np.float64)
        if window is not None:
            shift = np.zeros(len(meta["original_shape"]))
            plane = [i for i in range(len(shift)) if i != meta["axis"]]
            for i, (start, _) in zip(plane, window):
                shift[i] = start
            affine = affine.copy()
            affine[:3, 3] += affine[:3, :3] @ shift
        return torch.as_tensor(affine)


def _cases(store: SliceStore, data: Sequence[Mapping[str, Any] | str] | None) -> list[str]:
    return store.case_ids if data is None else [_case_id(item) for item in data]


class StoreSliceDataset(Dataset):
    """Map-style dataset of the 2D slices of the cases of a :class:`SliceStore`.

    Sample ``i`` is slice ``z`` of case ``c`` for the ``(c, z)`` that ``i`` enumerates in order, every slice along
    the store's axis counted (as :class:`~data.datasets.VolumeSliceDataset` over the cached pipeline does), cropped
    or padded in-plane to ``roi_size`` about the centre of the source slice (as ``ResizeWithPadOrCropd``).

    Args:
        store: the store.
        data: the cases to use: datalist items or case ids (None: every stored case).
        roi_size: in-plane size (None / entries <= 0: the source size).
        slice_transform: callable applied to each sample dictionary (augmentation, usually).

    Each sample is ``{"image": (C, *roi) float32, "label": (1, *roi) float32, "case_id": str, "slice_index": z}``.
    """

    def __init__(
        self,
        store: SliceStore,
        data: Sequence[Mapping[str, Any] | str] | None = None,
        roi_size: Sequence[int] | None = None,
        slice_transform: Callable | None = None,
    ) -> None:
        self.store = store
        self.cases = _cases(store, data)
        self.slice_transform = slice_transform
        self.windows = [store.window(case, roi_size) for case in self.cases]
        depths = [store.meta(case)["original_shape"][store.meta(case)["axis"]] for case in self.cases]
        self.offsets = np.concatenate([[0], np.cumsum(depths)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> dict:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"slice index {index} out of range for {len(self)} slices")
        c = int(np.searchsorted(self.offsets, index, side="right")) - 1
        z = int(index - self.offsets[c])
        image, label = self.store.read_slice(self.cases[c], z, self.windows[c])
        sample = {"image": torch.from_numpy(image), "label": torch.from_numpy(label), "case_id": self.cases[c]}
        sample["slice_index"] = z
        if self.slice_transform is not None:
            sample = apply_transform(self.slice_transform, sample)
        return sample


class StoreVolumeDataset(Dataset):
    """Whole volumes of the cases of a :class:`SliceStore`, read on every access (nothing is cached).

    What the in-memory pipeline's ``val_dataset`` gives: ``image`` (C, *roi, Z) and ``label`` (1, *roi, Z)
    float32 ``MetaTensor`` s whose ``affine`` is the source affine moved to the crop origin and whose
    ``filename_or_obj`` is the source image file, plus ``case_id``.

    Args:
        store: the store.
        data: datalist items or case ids (None: every stored case).
        roi_size: in-plane size (None / entries <= 0: the source size).
        transform: callable applied to each item (optional).
    """

    def __init__(
        self,
        store: SliceStore,
        data: Sequence[Mapping[str, Any] | str] | None = None,
        roi_size: Sequence[int] | None = None,
        transform: Callable | None = None,
    ) -> None:
        self.store = store
        self.cases = _cases(store, data)
        self.roi_size = roi_size
        self.transform = transform

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, index: int) -> dict:
        case = self.cases[index]
        window = self.store.window(case, self.roi_size)
        image, label = self.store.read_volume(case, window)
        affine = self.store.affine(case, window)
        source = _first_path(self.store.meta(case)["sources"].get("image", [case]))
        item = {
            "image": MetaTensor(torch.from_numpy(image), affine=affine, meta={"filename_or_obj": source}),
            "label": MetaTensor(torch.from_numpy(label), affine=affine.clone(), meta={"filename_or_obj": source}),
            "case_id": case,
        }
        if self.transform is not None:
            item = apply_transform(self.transform, item)
        return item
