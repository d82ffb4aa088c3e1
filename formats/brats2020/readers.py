"""Reading helpers of the BraTS2020 format: the seed's axial slice range (:class:`KeepSlicesd`) and the output
name of a prediction (:func:`case_output_name`, the case folder's name as in a BraTS submission)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import Crop, InvertibleTransform, MapTransform

from data.errors import DatasetError
from transforms.checks import ReportsLastFailure, _source_of

__all__ = ["KeepSlicesd", "case_output_name"]


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
