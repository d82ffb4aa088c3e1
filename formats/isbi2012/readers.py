"""Reading of the ISBI 2012 format: one page of a multi-page stack at a time (:class:`LoadTiffPaged`)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform

from data.errors import DatasetError
from formats.isbi2012.discovery import is_tiff
from transforms.checks import ReportsLastFailure
from transforms.io import LoadVolumed

__all__ = ["LoadTiffPaged"]


class LoadTiffPaged(ReportsLastFailure, MapTransform):
    """Decode one page of a multi-page stack into a channel-first ``MetaTensor`` (1, rows, columns).

    ``data[key]`` is the stack's path and ``data[page_key]`` the page index (as made by
    :func:`~formats.isbi2012.discovery.discover_isbi`). TIFF pages are read alone with ``tifffile`` (seeking to the
    page, not decoding the stack) and keep the numpy (rows, columns) axis order: unlike MONAI's ``PILReader``, nothing is
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
        if is_tiff(path):
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
