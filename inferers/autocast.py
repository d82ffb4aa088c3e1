"""Autocast on any device: run a MONAI inferer under ``torch.autocast`` (bfloat16 on CPU, float16/bfloat16 on CUDA)
and hand float32 outputs to the loss, post-processing and metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.inferers import Inferer

__all__ = ["AutocastInferer"]


def _to_float32(value: Any) -> Any:
    """Cast the float16/bfloat16 tensors in ``value`` (a tensor or nested tuple/list/dict) to float32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype in (torch.float16, torch.bfloat16) else value
    if isinstance(value, Mapping):
        return type(value)({k: _to_float32(v) for k, v in value.items()})
    if isinstance(value, (tuple, list)):
        return type(value)(_to_float32(v) for v in value)
    return value


class AutocastInferer(Inferer):
    """Run another MONAI inferer under ``torch.autocast(device_type, dtype)`` and return float32 outputs.

    MONAI's engines autocast only to CUDA (``torch.autocast("cuda")``), so their ``amp`` does nothing on a CPU; this
    wrapper autocasts on any device. ``engines.MixedPrecisionTrainer``/``MixedPrecisionEvaluator`` use it for bfloat16,
    and a config can wrap an inferer with it directly (``{_target_: inferers.AutocastInferer, inferer: ..., dtype: bfloat16}``).

    Args:
        inferer: the wrapped inferer (``SimpleInferer``, ``SliceInferer``, ...).
        device_type: ``"cpu"`` or ``"cuda"``; None: the device of each input.
        dtype: ``torch.bfloat16`` / ``torch.float16`` or a name: ``"bfloat16"``/``"bf16"``, ``"float16"``/``"fp16"``;
            ``"float32"``/``"fp32"``/``"none"`` switches autocast off (the inferer runs as it is).

    Raises:
        ValueError: for another dtype name (the valid names are listed).
    """

    _NAMES = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    _OFF = ("float32", "fp32", "none")

    def __init__(
        self, inferer: Inferer, device_type: str | None = None, dtype: torch.dtype | str = torch.bfloat16
    ) -> None:
        super().__init__()
        if not isinstance(dtype, torch.dtype):
            name = str(dtype).lower()
            if name not in self._NAMES and name not in self._OFF:
                raise ValueError(
                    f"AutocastInferer: dtype {dtype!r} is not one of {sorted(self._NAMES) + list(self._OFF)}"
                )
            dtype = self._NAMES.get(name)
        self.inferer = inferer
        self.device_type = device_type
        self.dtype = dtype

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> Any:
        """``inputs`` (B, C, *spatial) float32 -> the wrapped inferer's output, floating tensors as float32."""
        if self.dtype is None:
            return self.inferer(inputs, network, *args, **kwargs)
        with torch.autocast(self.device_type or inputs.device.type, dtype=self.dtype):
            out = self.inferer(inputs, network, *args, **kwargs)
        return _to_float32(out)
