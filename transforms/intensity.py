"""Intensity normalisation from a plan's per-channel entries (:mod:`data.plan`): ``ct`` (clip to the data set's
foreground 0.5 / 99.5 percentiles, then z-score with its foreground mean / std), ``zscore`` (per case, over the
non-zero region when ``use_nonzero_mask``; outside it the result is 0, as in nnU-Net), ``none`` and
``rescale_to_0_1`` (per-case min-max)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform

__all__ = ["NORMALIZATION_SCHEMES", "NormalizeByPlan", "NormalizeByPland", "normalize_channel"]

NORMALIZATION_SCHEMES = ("ct", "zscore", "none", "rescale_to_0_1")
_EPS = 1e-8


def normalize_channel(x: torch.Tensor, entry: Mapping[str, Any], mask: torch.Tensor | None = None) -> torch.Tensor:
    """Normalise one channel by one plan entry.

    Args:
        x: the channel (*spatial), any real dtype.
        entry: ``{"scheme": "ct", "clip": [lo, hi], "mean": m, "std": s}``, ``{"scheme": "zscore",
            "use_nonzero_mask": bool}``, ``{"scheme": "none"}`` or ``{"scheme": "rescale_to_0_1"}``.
        mask: the non-zero region (*spatial, bool) for ``zscore`` with ``use_nonzero_mask`` (default ``x != 0``).

    Returns:
        float32 tensor of the same shape.

    Raises:
        ValueError: unknown scheme (the message lists the valid ones) or a ``ct`` entry without its statistics.
    """
    x = torch.as_tensor(x).float()
    scheme = entry.get("scheme")
    if scheme == "ct":
        if not all(k in entry for k in ("clip", "mean", "std")):
            raise ValueError(f"a ct normalisation needs clip, mean and std (from the fingerprint); got {dict(entry)}.")
        lo, hi = (float(v) for v in entry["clip"])
        return (x.clamp(lo, hi) - float(entry["mean"])) / max(float(entry["std"]), _EPS)
    if scheme == "zscore":
        if entry.get("use_nonzero_mask", False):
            m = (x != 0) if mask is None else torch.as_tensor(mask, dtype=torch.bool, device=x.device)
            out = torch.zeros_like(x)
            if m.any():
                v = x[m]
                out[m] = (v - v.mean()) / max(float(v.std(unbiased=False)), _EPS)
            return out
        return (x - x.mean()) / max(float(x.std(unbiased=False)), _EPS)
    if scheme == "none":
        return x.clone()
    if scheme == "rescale_to_0_1":
        lo, hi = x.min(), x.max()
        return (x - lo) / max(float(hi - lo), _EPS)
    raise ValueError(f"unknown normalisation scheme {scheme!r}; valid: {', '.join(NORMALIZATION_SCHEMES)}.")


class NormalizeByPlan(Transform):
    """Normalise a channel-first image (C, *spatial) channel by channel with a plan's ``normalization`` list.

    The non-zero mask of ``zscore`` with ``use_nonzero_mask`` is where *any* channel is non-zero (the region the
    plan's crop keeps), shared by all channels.

    Args:
        normalization: one entry per channel (see :func:`normalize_channel`).

    Raises (from ``__call__``):
        ValueError: the image's channel count differs from the number of entries.
    """

    def __init__(self, normalization: Sequence[Mapping[str, Any]]) -> None:
        self.normalization = [dict(e) for e in normalization]
        for e in self.normalization:
            if e.get("scheme") not in NORMALIZATION_SCHEMES:
                raise ValueError(f"unknown normalisation scheme {e.get('scheme')!r}; valid: {NORMALIZATION_SCHEMES}.")

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(img)
        if x.shape[0] != len(self.normalization):
            raise ValueError(
                f"image has {x.shape[0]} channel(s) but the plan normalises {len(self.normalization)}; "
                "the plan was made for another data set - plan again."
            )
        mask = (x != 0).any(dim=0)
        out = torch.stack([normalize_channel(x[c], e, mask) for c, e in enumerate(self.normalization)])
        if isinstance(img, MetaTensor):
            out = MetaTensor(out, meta=img.meta, applied_operations=img.applied_operations)
        return out


class NormalizeByPland(MapTransform):
    """Dictionary form of :class:`NormalizeByPlan`.

    Args:
        keys: the image key(s) (C, *spatial).
        normalization: the plan's ``normalization`` list.
        allow_missing_keys: skip absent keys.
    """

    def __init__(
        self, keys: KeysCollection, normalization: Sequence[Mapping[str, Any]], allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.normalizer = NormalizeByPlan(normalization)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.normalizer(d[key])
        return d
