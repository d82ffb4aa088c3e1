"""Reading of the PNG-pairs format: colour pictures reduced to one channel (:class:`ToGrayscaled`)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

from data.errors import DatasetError
from transforms.checks import ReportsLastFailure, _source_of

__all__ = ["ToGrayscaled"]


class ToGrayscaled(ReportsLastFailure, MapTransform):
    """Reduce channel-first colour images (C = 3 or 4: RGB, RGBA) to one channel; one channel passes as is.

    Args:
        keys: keys of channel-first arrays (C, H, W).
        mode: per key or one for all: ``"luma"`` (ITU-R 601: 0.299 R + 0.587 G + 0.114 B; for images),
            ``"max"`` (the largest of R, G, B; for masks: any lit channel is foreground, values kept exactly),
            ``"first"`` (the red channel).
        allow_missing_keys: skip absent keys.

    Raises:
        DatasetError: (when called) a channel count other than 1, 2 (grey + alpha), 3 or 4; names the file.
    """

    _MODES = ("luma", "max", "first")

    def __init__(self, keys: KeysCollection, mode: str | Sequence[str] = "luma", allow_missing_keys: bool = False):
        super().__init__(keys, allow_missing_keys)
        modes = (mode,) * len(self.keys) if isinstance(mode, str) else tuple(mode)
        if len(modes) != len(self.keys) or any(m not in self._MODES for m in modes):
            raise ValueError(f"mode must be one of {self._MODES} or one per key, got {mode!r}.")
        self.mode = modes

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={self.keys}, mode={self.mode})"

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        self._clear_failure()
        d = dict(data)
        try:
            for key, mode in self.key_iterator(d, self.mode):
                img = d[key]
                channels = int(img.shape[0])
                if channels == 1:
                    continue
                if channels == 2:  # grey + alpha
                    d[key] = img[:1]
                    continue
                if channels not in (3, 4):
                    raise DatasetError(
                        f"{_source_of(d, key)}: {key!r} has {channels} channels (shape {tuple(img.shape)}); "
                        "expected 1 (grey), 3 (RGB) or 4 (RGBA)."
                    )
                rgb = img[:3]
                if mode == "first":
                    d[key] = rgb[:1]
                elif mode == "max":
                    d[key] = rgb.max(dim=0, keepdim=True).values if isinstance(rgb, torch.Tensor) else rgb.max(0)[None]
                else:
                    weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32)
                    weights = weights.reshape(3, *([1] * (rgb.ndim - 1)))
                    rgb_t = rgb if isinstance(rgb, torch.Tensor) else torch.as_tensor(rgb)
                    d[key] = (rgb_t.float() * weights.to(rgb_t.device)).sum(dim=0, keepdim=True)
        except DatasetError as err:
            self._record_failure(str(err))
            raise
        return d
