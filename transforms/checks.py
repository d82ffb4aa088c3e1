"""Data-integrity checks: the error type of bad data sets, and a check of decoded volumes inside a MONAI pipeline."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform
from monai.utils import ensure_tuple

from data.errors import DatasetError

__all__ = ["CheckVolumed", "ReportsLastFailure"]


def _source_of(data: Mapping[Hashable, Any], key: Hashable) -> str:
    """Name of the file that ``data[key]`` was decoded from.

    Read from the MetaTensor's ``meta["filename_or_obj"]`` (set by ``LoadImaged``), else from a
    ``{key}_meta_dict``; falls back to ``"<key 'image' of case ...>"`` when neither is there.
    """
    value = data[key]
    meta = value.meta if isinstance(value, MetaTensor) else data.get(f"{key}_meta_dict", {})
    name = meta.get("filename_or_obj") if isinstance(meta, Mapping) else None
    if name:
        return str(name)
    return f"<key {key!r} of case {data.get('case_id', '?')}>"


def _plain_tensor(value: Any) -> torch.Tensor:
    """``value`` as a torch.Tensor without metadata (no copy for tensors and MetaTensors)."""
    if isinstance(value, MetaTensor):
        return value.as_tensor()
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))


class ReportsLastFailure:
    """Mixin for transforms whose ``str()`` carries the message of their last failed call in the same thread.

    MONAI's ``Compose`` re-raises a transform's error as ``RuntimeError(f"applying transform {transform}")``, a
    message built from ``str(transform)``, so a transform that records its failure with :meth:`_record_failure`
    keeps the file it names in that final message. ``repr()`` stays the plain description.
    """

    def _failure_table(self) -> dict[int, str]:
        table = self.__dict__.get("_failures")
        if table is None:
            table = self.__dict__["_failures"] = {}  # thread id -> message of that thread's last failed call
        return table

    def _clear_failure(self) -> None:
        self._failure_table().pop(threading.get_ident(), None)

    def _record_failure(self, message: str) -> None:
        self._failure_table()[threading.get_ident()] = message

    def __str__(self) -> str:
        failure = self._failure_table().get(threading.get_ident())
        return repr(self) if failure is None else f"{self!r} failed: {failure}"


class CheckVolumed(ReportsLastFailure, MapTransform):
    """Fail with :class:`DatasetError` naming the file when a decoded volume is unusable.

    Place it right after ``LoadImaged``/``EnsureChannelFirstd``: it checks the arrays that are decoded anyway,
    so it costs no extra reading. Image keys must hold only finite values (no NaN, no inf); label keys only
    values from ``allowed_labels``. Data that pass are returned unchanged (a shallow copy of the dictionary with
    the same arrays).

    MONAI's ``Compose`` re-raises a transform's error as ``RuntimeError("applying transform {transform}")``
    from the original. So that the file still shows in that final message, ``str()`` of this transform
    carries the failure of its last call in the same thread, e.g. ``applying transform CheckVolumed(...)
    failed: /data/imagesTr/BRATS_007.nii.gz: image 'image' has 3 NaN and 0 infinite voxel(s) ...``; the original
    :class:`DatasetError` is the ``__cause__``. (``monai.bundle`` wraps the error of a component it instantiates,
    e.g. a ``CacheDataset`` filling its cache, once more; the file then shows in the chained traceback.)

    Args:
        image_keys: keys of images to check for NaN/inf.
        label_keys: keys of label maps to check against ``allowed_labels``.
        allowed_labels: label values that may occur. Defaults to MSD Task01's {0, 1, 2, 3}; ``None`` skips the
            label check.
        allow_missing_keys: skip keys that are absent (default True: test cases have no label).
    """

    def __init__(
        self,
        image_keys: KeysCollection | None = "image",
        label_keys: KeysCollection | None = "label",
        allowed_labels: Iterable[int | float] | None = (0, 1, 2, 3),
        allow_missing_keys: bool = True,
    ) -> None:
        self.image_keys = ensure_tuple(image_keys) if image_keys is not None else ()
        self.label_keys = ensure_tuple(label_keys) if label_keys is not None else ()
        keys = tuple(dict.fromkeys(self.image_keys + self.label_keys))
        super().__init__(keys, allow_missing_keys)
        self.allowed_labels = None if allowed_labels is None else tuple(sorted(set(ensure_tuple(allowed_labels))))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(image_keys={self.image_keys}, label_keys={self.label_keys}, "
            f"allowed_labels={self.allowed_labels})"
        )

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Check ``data`` and return it (as a new dictionary holding the same arrays).

        Raises:
            DatasetError: an image holds NaN/inf or a label holds a value outside ``allowed_labels``; the
                message starts with the file name.
        """
        self._clear_failure()
        d = dict(data)
        try:
            for key in self.key_iterator(d):
                if key in self.image_keys:
                    self._check_finite(d, key)
                if key in self.label_keys and self.allowed_labels is not None:
                    self._check_labels(d, key)
        except DatasetError as err:
            self._record_failure(str(err))
            raise
        return d

    @staticmethod
    def _check_finite(d: Mapping[Hashable, Any], key: Hashable) -> None:
        values = _plain_tensor(d[key])
        if not torch.is_floating_point(values) and not torch.is_complex(values):
            return  # integer images cannot hold NaN/inf
        # fast path: a NaN or inf makes the sum NaN or inf; a finite sum proves every voxel finite (an overflowing
        # sum of finite voxels only falls through to the full check)
        if bool(torch.isfinite(values.sum())):
            return
        finite = torch.isfinite(values)
        if bool(finite.all()):
            return
        num_nan = int(torch.isnan(values).sum())
        num_inf = int(torch.isinf(values).sum())
        first = tuple(int(i) for i in torch.nonzero(~finite)[0])
        channels = sorted({int(c) for c in torch.nonzero(~finite)[:, 0]}) if values.ndim > 1 else []
        source = _source_of(d, key)
        files = getattr(d[key], "meta", {}).get("source_files") if isinstance(d[key], MetaTensor) else None
        if files and len(files) == values.shape[0]:  # one file per channel: name the bad one(s)
            source = ", ".join(str(files[c]) for c in channels)
        raise DatasetError(
            f"{source}: image {key!r} has {num_nan} NaN and {num_inf} infinite voxel(s) "
            f"(channel(s) {channels}, first at index {first} of shape {tuple(values.shape)})."
        )

    def _check_labels(self, d: Mapping[Hashable, Any], key: Hashable) -> None:
        values = _plain_tensor(d[key])
        allowed = torch.as_tensor(np.asarray(self.allowed_labels), dtype=values.dtype, device=values.device)
        valid = torch.isin(values, allowed)
        if bool(valid.all()):
            return
        bad = torch.unique(values[~valid])
        shown = ", ".join(f"{v:g}" for v in bad[:10].tolist()) + (", ..." if bad.numel() > 10 else "")
        raise DatasetError(
            f"{_source_of(d, key)}: label {key!r} has {int((~valid).sum())} voxel(s) with value(s) {{{shown}}} "
            f"outside the allowed labels {list(self.allowed_labels)}."
        )
