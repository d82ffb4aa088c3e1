"""ISBI 2012 EM segmentation challenge (seed 002): multi-page TIFF stacks, one page per sample, split by page.

The challenge's training data are two 30-page TIFF stacks of 512 x 512 8-bit pages: ``train-volume.tif``
(serial-section TEM of the Drosophila ventral nerve cord) and ``train-labels.tif`` (255 = cell interior,
0 = membrane); ``test-volume.tif`` has 30 unlabelled pages. Seed 002 uses 20 pages for training, 5 for
validation and 5 for testing, images scaled from [0, 255] to [0, 1] and labels from {0, 255} to {0, 1}.

A page here is what a case is elsewhere: the data list has one item per page, ``{"image": stack path,
"label": stack path, "page": k, "case_id": "page_07"}``, and :class:`LoadTiffPaged` decodes page ``k`` only.
Stacks sent as a 3D volume in another format (``.nii``/``.nii.gz`` through nibabel, ``.nrrd``/``.mha`` through
ITK, via :class:`transforms.io.LoadVolumed`) are read too: page ``k`` is then the ``k``-th slice along the last axis.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform

from data.errors import DatasetError
from transforms.checks import ReportsLastFailure
from transforms.image_headers import image_suffix, read_image_shape
from transforms.io import LoadVolumed
from transforms.splits import split_by_group

__all__ = [
    "ISBI_LABELS",
    "ISBI_SPLIT",
    "LoadTiffPaged",
    "load_isbi_datalist",
    "read_stack_info",
    "split_isbi",
]

ISBI_LABELS = (0, 255)  # membrane, cell
ISBI_SPLIT = (20, 5, 5)  # seed 002: training / validation / test pages of 30
_TIFF_SUFFIXES = (".tif", ".tiff")


def _is_tiff(path: str | os.PathLike) -> bool:
    return image_suffix(path) in _TIFF_SUFFIXES


class _LogRecorder(logging.Handler):
    """Keeps the messages of warnings logged while it is attached (tifffile logs a broken chain of pages)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def read_stack_info(path: str | os.PathLike) -> tuple[int, tuple[int, ...]]:
    """Number of pages and the shape of each page of an image stack, from its header(s) only.

    TIFF: every page of the file (``tifffile``); all pages must be 2D (grey) of one shape. Other formats
    (NIfTI, NRRD, MHA): a 3D volume whose last axis counts the pages.

    Returns:
        ``(num_pages, page_shape)``; a TIFF page shape is (rows, columns).

    Raises:
        DatasetError: missing or unreadable file, a truncated TIFF (a broken chain of pages, fewer pages than its
            ImageJ header declares, page data past the end of the file), colour or differently sized pages, not a
            3D volume; the message names the file.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise DatasetError(f"{path}: file not found.")
    if not _is_tiff(path):
        shape = read_image_shape(path)
        if len(shape) != 3:
            raise DatasetError(f"{path}: shape {shape}, expected a 3D stack (X, Y, pages).")
        return shape[-1], tuple(shape[:2])
    import tifffile

    size = os.path.getsize(path)
    complaints = _LogRecorder()
    tifffile.logger().addHandler(complaints)  # tifffile only logs a broken page chain and stops there
    try:
        with tifffile.TiffFile(path) as tif:
            shapes = [tuple(int(s) for s in page.shape) for page in tif.pages]
            declared = (tif.imagej_metadata or {}).get("images")
            beyond = [
                i for i, page in enumerate(tif.pages)
                if any(o + c > size for o, c in zip(page.dataoffsets, page.databytecounts))
            ]  # fmt: skip
    except Exception as err:  # tifffile raises TiffFileError, ValueError, struct.error ...
        raise DatasetError(f"{path}: cannot read as TIFF ({type(err).__name__}: {err})") from err
    finally:
        tifffile.logger().removeHandler(complaints)
    if not shapes:
        raise DatasetError(f"{path}: the TIFF holds no readable page (truncated or corrupt file?).")
    if complaints.messages:
        raise DatasetError(
            f"{path}: damaged TIFF structure after page {len(shapes) - 1} (tifffile: {complaints.messages[0]}); "
            "truncated or corrupt file?"
        )
    if declared is not None and int(declared) != len(shapes):
        raise DatasetError(
            f"{path}: the ImageJ header declares {declared} page(s), {len(shapes)} can be read (truncated file?)."
        )
    if beyond:
        raise DatasetError(f"{path}: page {beyond[0]} ends past the end of the file ({size} bytes; truncated file?).")
    bad = [i for i, s in enumerate(shapes) if len(s) != 2]
    if bad:
        raise DatasetError(f"{path}: page {bad[0]} has shape {shapes[bad[0]]}; expected grey 2D pages.")
    if len(set(shapes)) > 1:
        sizes = sorted(set(shapes))
        raise DatasetError(f"{path}: pages differ in size ({sizes}); expected one page size.")
    return len(shapes), shapes[0]


def load_isbi_datalist(
    dataset_dir: str | os.PathLike,
    image_file: str = "train-volume.tif",
    label_file: str | None = "train-labels.tif",
    num_pages: int | None = None,
    page_shape: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """One data-list item per page of an ISBI 2012 stack, checked from the TIFF headers.

    Args:
        dataset_dir: folder holding the stacks.
        image_file: image stack, relative to ``dataset_dir`` (``test-volume.tif`` for the test pages).
        label_file: label stack, or None for an unlabelled stack.
        num_pages: expected page count (30 for the real stacks); None accepts any count, but image and
            label stacks must always agree.
        page_shape: expected (rows, columns) of every page ((512, 512) for the real stacks); None: any.

    Returns:
        ``[{"image": path, "label": path, "page": k, "case_id": "page_00"}, ...]`` in page order (no
        ``label`` without ``label_file``).

    Raises:
        DatasetError: a stack missing or unreadable, wrong page count, pages of the wrong size, or image and
            label stacks that differ in page count or page size; the message names the file(s).
    """
    root = Path(dataset_dir).expanduser().absolute()
    image = str(root / image_file)
    pages, shape = read_stack_info(image)
    if num_pages is not None and pages != num_pages:
        raise DatasetError(f"{image}: {pages} page(s), expected {num_pages}.")
    if page_shape is not None and tuple(shape) != tuple(page_shape):
        raise DatasetError(f"{image}: pages of {shape}, expected {tuple(page_shape)}.")
    label = None
    if label_file is not None:
        label = str(root / label_file)
        label_pages, label_shape = read_stack_info(label)
        if label_pages != pages:
            raise DatasetError(f"{label}: {label_pages} page(s), but the image stack {image} has {pages}.")
        if label_shape != shape:
            raise DatasetError(f"{label}: pages of {label_shape}, but the image stack {image} has pages of {shape}.")
    width = max(2, len(str(pages - 1)))
    datalist = []
    for page in range(pages):
        item: dict[str, Any] = {"image": image, "page": page, "case_id": f"page_{page:0{width}d}"}
        if label is not None:
            item["label"] = label
        datalist.append(item)
    return datalist


def split_isbi(
    datalist: Sequence[dict], fractions: Sequence[float] = ISBI_SPLIT, seed: int | str = 0
) -> tuple[list[dict], ...]:
    """Training / validation / test pages: seed 002's 20/5/5 of 30, as fractions for other page counts.

    See :func:`transforms.split_by_group` (each page is its own group).
    """
    return split_by_group(datalist, fractions, group_key="case_id", seed=seed)


class LoadTiffPaged(ReportsLastFailure, MapTransform):
    """Decode one page of a multi-page stack into a channel-first ``MetaTensor`` (1, rows, columns).

    ``data[key]`` is the stack's path and ``data[page_key]`` the page index (as made by
    :func:`load_isbi_datalist`). TIFF pages are read alone with ``tifffile`` (seeking to the page, not
    decoding the stack) and keep the numpy (rows, columns) axis order: unlike MONAI's ``PILReader``, nothing is
    transposed, so a page looks as in any image viewer. Other formats are read whole through
    :class:`transforms.io.LoadVolumed` (nibabel for NIfTI, ITK for NRRD/MHA) and page ``k`` is slice ``k`` of the
    last axis, in that reader's axis order.

    The meta data hold ``filename_or_obj`` (the stack), ``page`` and an identity affine, so
    :class:`~transforms.CheckVolumed` placed after this names the file in its errors.

    Args:
        keys: keys holding stack paths (e.g. ``["image", "label"]``).
        page_key: key of the page index.
        dtype: dtype of the output (values unchanged: ISBI images stay 0..255).
        allow_missing_keys: skip absent keys (test items have no label).

    Raises:
        DatasetError: (when called) unreadable file, page index out of range, a colour page; the message
            names the file.
    """

    def __init__(
        self,
        keys: KeysCollection,
        page_key: Hashable = "page",
        dtype: torch.dtype | str = torch.float32,
        allow_missing_keys: bool = True,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.page_key = page_key
        self.dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        self._volume_loader = LoadVolumed(keys="stack")  # one reader per suffix, errors name the file

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={self.keys}, page_key={self.page_key!r})"

    def _read_page(self, path: str, page: int) -> np.ndarray:
        if _is_tiff(path):
            import tifffile

            try:
                with tifffile.TiffFile(path) as tif:
                    if not 0 <= page < len(tif.pages):
                        raise DatasetError(f"{path}: no page {page}; the stack has {len(tif.pages)} page(s).")
                    array = tif.pages[page].asarray()
            except DatasetError:
                raise
            except Exception as err:  # tifffile raises TiffFileError, ValueError, struct.error ...
                raise DatasetError(f"{path}: cannot read page {page} ({type(err).__name__}: {err})") from err
        else:
            try:
                volume = np.asarray(self._volume_loader({"stack": path})["stack"])
            except Exception as err:  # readers raise anything from EOFError to ITK's RuntimeError
                raise DatasetError(f"{path}: cannot read the stack ({type(err).__name__}: {err})") from err
            if volume.ndim != 3 or not 0 <= page < volume.shape[-1]:
                raise DatasetError(f"{path}: no page {page} in a stack of shape {volume.shape} (pages last).")
            array = volume[..., page]
        if array.ndim != 2:
            raise DatasetError(f"{path}: page {page} has shape {array.shape}; expected a grey 2D page.")
        return array

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        self._clear_failure()
        d = dict(data)
        try:
            if self.page_key not in d:
                raise DatasetError(f"item {d.get('case_id', '?')!r} has no {self.page_key!r} (page index).")
            page = int(d[self.page_key])
            for key in self.key_iterator(d):
                path = str(d[key])
                array = self._read_page(path, page)
                meta = {
                    "filename_or_obj": path,
                    "page": page,
                    "spatial_shape": np.asarray(array.shape),
                    "original_channel_dim": 0,
                    "affine": torch.eye(3, dtype=torch.float64),
                }
                d[key] = MetaTensor(torch.as_tensor(array.astype(np.float32))[None].to(self.dtype), meta=meta)
        except DatasetError as err:
            self._record_failure(str(err))
            raise
        return d
