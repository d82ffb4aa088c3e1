"""Slice-by-slice inference that falls back to smaller batches of slices, then CPU stitching, when memory runs out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from monai.inferers import SliceInferer

__all__ = ["AdaptiveSliceInferer", "is_out_of_memory"]

# CPU allocations that fail raise a plain RuntimeError with one of these texts; CUDA raises torch.OutOfMemoryError
_OOM_TEXTS = ("out of memory", "can't allocate memory", "cannot allocate memory")


def is_out_of_memory(error: BaseException) -> bool:
    """True if ``error`` is PyTorch running out of GPU or CPU memory."""
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(error, RuntimeError) and any(text in str(error).lower() for text in _OOM_TEXTS)


class AdaptiveSliceInferer(SliceInferer):
    """MONAI's :class:`~monai.inferers.SliceInferer` (a 2D network over every slice of a 3D volume) that survives
    running out of memory on a large volume, as MONAI's ``SlidingWindowInfererAdapt`` does for sliding windows.

    On an out-of-memory error the same volume is tried again with half as many slices per network call
    (``sw_batch_size``), down to ``min_sw_batch_size``; then, for a volume on the GPU, with the output stitched on
    the CPU (``device="cpu"``: the network still runs on the GPU, the output volume lives in CPU memory). The
    reduced settings are kept for the following volumes, and each step is logged as a warning. The result is the
    same as without the limit: every slice is predicted once either way. If even one slice at a time with CPU
    stitching does not fit, a ``MemoryError`` says which volume and what to change. A stitching ``device`` given to
    the constructor is kept (no CPU fall-back), as in ``SlidingWindowInfererAdapt``.

    Args:
        spatial_dim: the axis of the 3D volume ``(H, W, D)`` whose slices are fed to the network (2 = axial).
        min_sw_batch_size: the smallest batch of slices to try before giving up on batch reduction.
        kwargs: the other :class:`~monai.inferers.SlidingWindowInferer` arguments (``roi_size``, ``sw_batch_size``,
            ``overlap``, ``mode``, ``device``, ``progress``, ...).

    Shapes: ``inputs`` (B, C, H, W, D) -> output (B, C_out, H, W, D), as ``SliceInferer``.
    """

    def __init__(self, spatial_dim: int = 0, min_sw_batch_size: int = 1, **kwargs: Any) -> None:
        super().__init__(spatial_dim=spatial_dim, **kwargs)
        if min_sw_batch_size < 1:
            raise ValueError(f"min_sw_batch_size must be >= 1, got {min_sw_batch_size}.")
        self.min_sw_batch_size = min_sw_batch_size
        self.cpu_fallback = self.device is None
        self.logger = logging.getLogger(__name__)

    def __call__(self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        while True:
            try:
                return super().__call__(inputs, network, *args, **kwargs)
            except RuntimeError as error:  # torch.OutOfMemoryError is a RuntimeError
                if not is_out_of_memory(error):
                    raise
                if inputs.is_cuda:
                    torch.cuda.empty_cache()
                self._adapt(inputs, error)

    def _adapt(self, inputs: torch.Tensor, error: BaseException) -> None:
        """Take the next fall-back step after ``error``, or raise if none is left."""
        shape = tuple(inputs.shape)
        if self.sw_batch_size > self.min_sw_batch_size:
            smaller = max(self.min_sw_batch_size, self.sw_batch_size // 2)
            self.logger.warning(
                f"out of memory on a volume of shape {shape} with {self.sw_batch_size} slices per batch; "
                f"retrying with {smaller} (kept for the following volumes)"
            )
            self.sw_batch_size = smaller
        elif self.cpu_fallback and inputs.is_cuda and self.device is None:
            self.logger.warning(
                f"out of memory on a volume of shape {shape} with {self.sw_batch_size} slice(s) per batch; "
                "retrying with the output stitched on the CPU (kept for the following volumes)"
            )
            self.device = torch.device("cpu")
        else:
            raise MemoryError(
                f"out of memory on a volume of shape {shape} even with {self.sw_batch_size} slice(s) per batch"
                f"{' and CPU stitching' if self.device is not None and str(self.device) == 'cpu' else ''}: use a "
                f"smaller roi_size, a smaller volume, or --device cpu ({error})"
            ) from error
