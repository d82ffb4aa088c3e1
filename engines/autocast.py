"""Mixed precision for inference on any device: MONAI's engines autocast only to CUDA (``torch.autocast("cuda")``),
so ``amp`` does nothing on a CPU; this inferer wrapper autocasts on the device of its input instead."""

from __future__ import annotations

from typing import Any

import torch
from monai.inferers import Inferer

__all__ = ["AutocastInferer"]

_DTYPES = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}


class AutocastInferer(Inferer):
    """Runs ``inferer`` under ``torch.autocast`` on the input's device and returns float32.

    On a CPU with AVX-512 BF16 (or AMX), ``bfloat16`` convolutions run ~1.5-3x faster than fp32; predictions of
    a thresholded sigmoid change on a few boundary voxels only.

    Args:
        inferer: the inferer to wrap (e.g. MONAI's ``SliceInferer``).
        dtype: ``"bfloat16"`` / ``"bf16"`` or ``"float16"`` / ``"fp16"``; ``"float32"`` / ``"fp32"`` / ``"none"``
            switches autocast off (the inferer runs as it is).

    Raises:
        ValueError: for another dtype name (the valid names are listed).
    """

    def __init__(self, inferer: Inferer, dtype: str = "bfloat16") -> None:
        super().__init__()
        name = str(dtype).lower()
        if name not in _DTYPES and name not in ("float32", "fp32", "none"):
            raise ValueError(f"AutocastInferer: dtype {dtype!r} is not one of {sorted(_DTYPES) + ['float32', 'fp32', 'none']}")
        self.inferer = inferer
        self.dtype = _DTYPES.get(name)

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> Any:
        if self.dtype is None:
            return self.inferer(inputs, network, *args, **kwargs)
        with torch.autocast(inputs.device.type, dtype=self.dtype):
            out = self.inferer(inputs, network, *args, **kwargs)
        return out.float() if isinstance(out, torch.Tensor) else out
