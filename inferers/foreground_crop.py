"""Inference on the foreground region only (nnU-Net crops every case to its non-zero bounding box): the network runs
on the bounding box of the voxels that are non-zero in any channel, and the prediction is pasted back into the full
geometry, the rest filled with a background prediction. A slice-wise inferer then never sees the empty slices."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.inferers import Inferer, SimpleInferer, SliceInferer, SlidingWindowInferer
from monai.transforms.utils import generate_spatial_bounding_box
from monai.utils import convert_to_dst_type, ensure_tuple_rep

__all__ = ["BACKGROUND_LOGIT", "ForegroundCropInferer", "foreground_box"]

logger = logging.getLogger(__name__)

# |logit| of the background filled in outside the box: sigmoid(-20) = 2e-9, softmax([0, -20]) = [1 - 2e-9, 2e-9];
# exact in bfloat16 and float16, and a finite loss should a label ever mark a voxel of the empty region
BACKGROUND_LOGIT = 20.0


def _flag(value: bool | str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on") if isinstance(value, str) else bool(value)


def foreground_box(
    inputs: torch.Tensor, margin: Sequence[int] | int = 0, input_background: float = 0.0
) -> tuple[list[int], list[int]] | None:
    """The bounding box of the voxels that differ from ``input_background`` in any channel of any batch item.

    MONAI's :func:`~monai.transforms.utils.generate_spatial_bounding_box` (as ``CropForeground``) with nnU-Net's rule
    (non-zero, not positive: standardised images are negative in places), the margin clipped to the image.

    Args:
        inputs: (B, C, *spatial).
        margin: voxels added on each side, one value or one per spatial axis.
        input_background: the value of the empty region.

    Returns:
        ``(start, end)`` per spatial axis (end exclusive), or None when every voxel is ``input_background``.
    """
    spatial = inputs.shape[2:]
    data = inputs.as_tensor() if isinstance(inputs, MetaTensor) else inputs
    # the union over the batch and the channels: one (B * C, *spatial) "channel-first image"
    start, end = generate_spatial_bounding_box(
        data.reshape(-1, *spatial), select_fn=lambda x: x != input_background, margin=margin, allow_smaller=True
    )
    if any(e <= s for s, e in zip(start, end)):
        return None
    return [int(s) for s in start], [int(e) for e in end]


def _grown_box(
    start: list[int], end: list[int], shape: Sequence[int], k: Sequence[int], min_size: Sequence[int]
) -> tuple[list, list, list]:
    """Grow each axis of the box to at least ``min_size`` (at most the image), then to a multiple of ``k`` (centred,
    shifted into the image); where the image is too small for the multiple the remainder is returned as padding to
    add after the crop."""
    new_start, new_end, pad = [], [], []
    for s, e, n, m, least in zip(start, end, shape, k, min_size):
        target = int(math.ceil(max(e - s, min(least, n)) / m) * m)
        a = s - (target - (e - s)) // 2
        b = a + target
        if b > n:
            a, b = a - (b - n), n
        if a < 0:
            a, b = 0, min(b - a, n)
        new_start.append(a)
        new_end.append(b)
        pad.append(target - (b - a))
    return new_start, new_end, pad


def _map(value: Any, fn) -> Any:
    """Apply ``fn`` to the tensors of an inferer's output (a tensor, or a tuple/list/dict of them)."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, Mapping):
        return type(value)({k: _map(v, fn) for k, v in value.items()})
    if isinstance(value, (tuple, list)):
        return type(value)(_map(v, fn) for v in value)
    return value


def _first_tensor(value: Any) -> torch.Tensor:
    """The first tensor of an inferer's output (a tensor, or a tuple/list/dict of them)."""
    while not isinstance(value, torch.Tensor):
        value = next(iter(value.values() if isinstance(value, Mapping) else value))
    return value


def _sliding_window(inferer: Any) -> SlidingWindowInferer | None:
    """The sliding-window (or slice) inferer at the end of a chain of wrappers with an ``inferer`` attribute."""
    seen = 0
    while inferer is not None and not isinstance(inferer, SlidingWindowInferer) and seen < 8:
        inferer, seen = getattr(inferer, "inferer", None), seen + 1
    return inferer if isinstance(inferer, SlidingWindowInferer) else None


class ForegroundCropInferer(Inferer):
    """Run another inferer on the foreground bounding box only and paste its output back into the full geometry.

    The box holds every voxel that differs from ``input_background`` (0) in any channel; for a batch, the union over
    the items (the bundles infer one case at a time). Outside the box the output is ``background``: the logits of a
    background prediction, so the post-processing (sigmoid/softmax, threshold/argmax) and the metrics treat it as
    any prediction. A slice inferer given the crop never calls the network on the slices outside it, and a
    sliding-window inferer covers only the box with windows.

    * an empty input (every voxel ``input_background``) costs no network call once the output's channels are known
      (``out_channels``, the length of a per-channel ``background``, or the output of an earlier input); before
      that, one call on a ``divisible_by``-sized corner learns them (logged);
    * a box equal to the whole input calls the wrapped inferer on the input itself (no copy);
    * outputs with another channel count than the input, stacked deep-supervision heads ``(B, L, K, *spatial)``
      (the spatial axes are the output's last ones) and tuples/dicts of such tensors are pasted alike;
    * behind a sliding-window or slice inferer (found through wrappers' ``inferer`` attributes) the box is grown to
      at least its ``roi_size`` along the windowed axes (within the image): a crop the inferer would pad is not
      made, so an image no larger than the roi (bundles/unet's 144 x 144 slices) is cropped along the slice axis
      only and the logits inside the box are exactly those of the whole volume;
    * a network that needs sizes divisible by ``2**depth`` behind an inferer that does not pad (``SimpleInferer``):
      ``divisible_by`` grows the box (then pads with ``input_background`` where the image is too small) and crops
      the output back;
    * ``fit_roi``: no growth to the roi; a crop smaller than the roi is inferred with the roi shrunk to the crop
      (grown to ``divisible_by``) instead of padded: fewer voxels through the network, at the price of zero padding
      where the network saw zero-valued background in training and of windows shifted against the whole image
      (logits differ near the box's faces; nnU-Net, whose training crops alike, pads to the patch size: off by
      default).

    Args:
        inferer: the wrapped inferer (``SliceInferer``, ``SlidingWindowInferer``, ``SimpleInferer``, ...).
        margin: voxels of context kept around the box, one value or one per spatial axis (clipped to the image).
        background: the output outside the box. ``"sigmoid"``: ``-BACKGROUND_LOGIT`` in every channel (every region
            absent); ``"softmax"``: 0 in channel 0 and ``-BACKGROUND_LOGIT`` in the others (class 0 wins); a number:
            that value in every channel; a sequence: one value per output channel.
        out_channels: channels of the wrapped inferer's output (lets an empty input skip the network); None: from
            a per-channel ``background`` or learnt from the first output.
        input_background: the input value of the empty region (0 for images standardised over their non-zero
            voxels, as BraTS/nnU-Net do).
        divisible_by: grow the box to a multiple of this along each axis (one value or one per axis); 1: as found.
        fit_roi: shrink the wrapped sliding-window inferer's ``roi_size`` to a smaller crop (see above).
        enabled: False runs the wrapped inferer on the whole input (the bundles' ``--crop_foreground false``);
            the strings "true"/"false" of a command line are understood.

    Shapes:
        ``inputs`` (B, C, *spatial) -> the wrapped inferer's output (B, [L,] K, *spatial), of the input's type (a
        MetaTensor input gives a MetaTensor with its metadata, as MONAI's sliding-window inference).

    Raises:
        ValueError: a ``background`` name other than sigmoid/softmax, a negative margin, ``divisible_by`` < 1, or a
            per-channel ``background`` whose length differs from the output's channels.
    """

    def __init__(
        self,
        inferer: Inferer | None = None,
        margin: Sequence[int] | int = 0,
        background: str | float | Sequence[float] = "sigmoid",
        out_channels: int | None = None,
        input_background: float = 0.0,
        divisible_by: Sequence[int] | int = 1,
        fit_roi: bool | str = False,
        enabled: bool | str = True,
    ) -> None:
        super().__init__()
        self.inferer = inferer if inferer is not None else SimpleInferer()
        if isinstance(background, str) and background.lower() not in ("sigmoid", "softmax"):
            raise ValueError(
                f"ForegroundCropInferer: background {background!r} is not 'sigmoid', 'softmax', a number or a list."
            )
        self.background = background.lower() if isinstance(background, str) else background
        if isinstance(background, Sequence) and not isinstance(background, str):
            self.background = [float(v) for v in background]
            if out_channels is None:
                out_channels = len(self.background)
        self.margin = margin
        if any(int(m) < 0 for m in (margin if isinstance(margin, Sequence) else [margin])):
            raise ValueError(f"ForegroundCropInferer: margin must be >= 0, got {margin}.")
        self.divisible_by = divisible_by
        if any(int(k) < 1 for k in (divisible_by if isinstance(divisible_by, Sequence) else [divisible_by])):
            raise ValueError(f"ForegroundCropInferer: divisible_by must be >= 1, got {divisible_by}.")
        self.input_background = float(input_background)
        self.fit_roi = _flag(fit_roi)
        self.enabled = _flag(enabled)
        # the output's non-spatial shape after the batch axis ((K,) or (L, K)), its dtype and device, once known
        self._head: tuple[int, ...] | None = None if out_channels is None else (int(out_channels),)
        self._dtype: torch.dtype | None = None
        self._device: torch.device | None = None  # the output's (a slice inferer may stitch on the CPU)
        self.last_box: tuple[list[int], list[int]] | None = None  # the box of the last call (None: empty input)

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.enabled:
            return self.inferer(inputs, network, *args, **kwargs)
        spatial = list(inputs.shape[2:])
        nd = len(spatial)
        box = foreground_box(inputs, self.margin, self.input_background)
        self.last_box = box
        if box is None:
            if self._head is not None:
                filled = self._filled(inputs, spatial, self._dtype or inputs.dtype, self._device)
                return self._restore_type(filled, inputs)
            logger.info("ForegroundCropInferer: empty input before any output; one call to learn the output channels")
            start, end = [0] * nd, [min(n, k) for n, k in zip(spatial, ensure_tuple_rep(self.divisible_by, nd))]
            self._infer_box(inputs, network, start, end, args, kwargs)  # sets self._head
            return self._restore_type(self._filled(inputs, spatial, self._dtype, self._device), inputs)
        start, end = box
        return self._restore_type(self._infer_box(inputs, network, start, end, args, kwargs, spatial), inputs)

    def _infer_box(self, inputs, network, start, end, args, kwargs, spatial=None) -> Any:
        """The wrapped inferer on the box (grown to ``divisible_by``), pasted into a background-filled output of
        shape ``spatial`` (None: the bare output, for learning the channels)."""
        shape = list(inputs.shape[2:])
        nd = len(shape)
        start, end, pad = _grown_box(start, end, shape, ensure_tuple_rep(self.divisible_by, nd), self._window_size(nd))
        size = [e - s for s, e in zip(start, end)]
        whole = start == [0] * nd and end == shape and not any(pad)
        if whole:
            crop = inputs
        else:
            data = inputs.as_tensor() if isinstance(inputs, MetaTensor) else inputs
            crop = data[(slice(None), slice(None), *(slice(s, e) for s, e in zip(start, end)))]
            if any(pad):
                crop = F.pad(crop, [p for q in reversed(pad) for p in (0, q)], value=self.input_background)
        with self._roi_fitted([n + p for n, p in zip(size, pad)]):
            out = self.inferer(crop, network, *args, **kwargs)
        if any(pad):
            out = _map(out, lambda t: t[(..., *(slice(0, n) for n in size))])
        first = _first_tensor(out)
        if tuple(first.shape[-nd:]) != tuple(size):
            raise ValueError(
                f"ForegroundCropInferer: the wrapped inferer returned spatial shape {tuple(first.shape[-nd:])} for a "
                f"crop of {tuple(size)}; only outputs on the input's grid can be pasted back (use enabled=False)."
            )
        self._head, self._dtype, self._device = tuple(first.shape[1:-nd]), first.dtype, first.device
        if whole or spatial is None:
            return out
        region = (..., *(slice(s, e) for s, e in zip(start, end)))

        def paste(t: torch.Tensor) -> torch.Tensor:
            full = self._filled(t, shape, t.dtype, t.device, head=tuple(t.shape[1:-nd]))
            full[region] = t
            return full

        return _map(out, paste)

    def _filled(self, like: torch.Tensor, spatial, dtype, device=None, head=None) -> torch.Tensor:
        """A (B, *head, *spatial) tensor of the background prediction, B from ``like``, on ``device`` (None: like's)."""
        head = tuple(head if head is not None else self._head)
        batch, device = like.shape[0], like.device if device is None else device
        channels = head[-1]
        if self.background == "sigmoid":
            values = [-BACKGROUND_LOGIT] * channels
        elif self.background == "softmax":
            values = [0.0] + [-BACKGROUND_LOGIT] * (channels - 1)
        elif isinstance(self.background, list):
            if len(self.background) != channels:
                raise ValueError(
                    f"ForegroundCropInferer: background has {len(self.background)} values but the output has "
                    f"{channels} channels; give one value per output channel."
                )
            values = self.background
        else:
            values = [float(self.background)] * channels
        nd = len(spatial)
        fill = torch.tensor(values, dtype=dtype, device=device).view(channels, *([1] * nd))
        full = torch.empty((batch, *head, *spatial), dtype=dtype, device=device)
        full.copy_(fill.expand_as(full))
        return full

    @staticmethod
    def _restore_type(out: Any, inputs: torch.Tensor) -> Any:
        """A MetaTensor input's metadata on the output tensors (as MONAI's sliding-window inference returns)."""
        if not isinstance(inputs, MetaTensor):
            return out
        def meta(t: torch.Tensor) -> torch.Tensor:
            return t if isinstance(t, MetaTensor) else convert_to_dst_type(t, inputs, dtype=t.dtype, device=t.device)[0]

        return _map(out, meta)

    def _window_size(self, nd: int) -> list[int]:
        """The smallest box per axis: the wrapped sliding-window inferer's roi (the whole axis for a non-positive
        roi entry, 1 along a slice inferer's slice axis), so it windows the crop as it would the whole image; none
        with ``fit_roi`` or another inferer."""
        target = None if self.fit_roi else _sliding_window(self.inferer)
        if target is None:
            return [0] * nd
        if isinstance(target, SliceInferer):
            roi = list(ensure_tuple_rep(target.orig_roi_size, nd - 1))
            roi.insert(target.spatial_dim, 1)
        else:
            roi = list(ensure_tuple_rep(target.roi_size, nd))
        return [int(r) if int(r) > 0 else 1 << 30 for r in roi]

    @contextmanager
    def _roi_fitted(self, crop_size: list[int]):
        """With ``fit_roi``: the wrapped sliding-window inferer's roi shrunk to ``crop_size`` for one call."""
        target = _sliding_window(self.inferer) if self.fit_roi else None
        if target is None:
            yield
            return
        nd = len(crop_size)
        if isinstance(target, SliceInferer):
            name, axes = "orig_roi_size", [a for a in range(nd) if a != target.spatial_dim]
        else:
            name, axes = "roi_size", list(range(nd))
        roi = list(getattr(target, name))
        fitted = [r if r <= 0 else min(int(r), crop_size[a]) for r, a in zip(roi, axes)]
        if fitted == roi:
            yield
            return
        saved_2d = target.orig_roi_size if isinstance(target, SliceInferer) else None
        saved = (saved_2d, target.roi_size, target.roi_weight_map)
        setattr(target, name, tuple(fitted))
        target.roi_weight_map = None  # cached for the full roi
        try:
            yield
        finally:
            if isinstance(target, SliceInferer):
                target.orig_roi_size = saved[0]
            target.roi_size, target.roi_weight_map = saved[1], saved[2]
