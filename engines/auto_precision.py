"""The fastest precision and memory layout a device supports, chosen when a bundle says ``amp: auto``.

- CUDA GPU: mixed precision, bfloat16 where the GPU computes it natively (compute capability 8.0 and newer:
  Ampere, Hopper, ...), float16 with a gradient scaler before that; channels-last (tensor cores prefer NHWC).
- CPU with native bfloat16 (the ``avx512_bf16`` or ``amx_bf16`` instruction sets, which oneDNN uses): bfloat16
  autocast and channels-last (docs/benchmarks.md: 2.0x training and 1.75x inference over float32 NCHW on such a CPU).
- any other CPU: float32, NCHW (bfloat16 is emulated there and slower than float32).

The choice is logged once at the start of a run with its reason, e.g.
``precision: bfloat16 autocast, channels-last, because the CPU computes bfloat16 natively (avx512_bf16)``.
Explicit settings (``--amp false``, ``--amp_dtype float16``, ``--channels_last false``) always win over ``auto``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["PrecisionChoice", "choose_precision", "device_capabilities", "is_auto"]

logger = logging.getLogger(__name__)
_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
CPUINFO = "/proc/cpuinfo"  # where the CPU's instruction-set flags are read (Linux)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "none")


def is_auto(value: Any) -> bool:
    """Whether a setting is ``"auto"`` (any case, as the command line gives it)."""
    return isinstance(value, str) and value.strip().lower() == "auto"


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _TRUE or key in _FALSE:
            return key in _TRUE
        raise ValueError(f"{name} must be true, false or auto, got {value!r}.")
    return bool(value)


def _cpu_flags() -> set[str]:
    """The instruction-set flags of the first CPU in :data:`CPUINFO` (empty where there is no such file)."""
    try:
        text = Path(CPUINFO).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def device_capabilities(device: str | torch.device) -> dict[str, Any]:
    """What ``device`` can compute fast: ``{"type", "name", "bf16_native", "reason"}``.

    CPU: native bfloat16 when the CPU lists ``avx512_bf16`` or ``amx_bf16`` and PyTorch's oneDNN reports bfloat16
    support. CUDA: native bfloat16 from compute capability 8.0 on.
    """
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        name = torch.cuda.get_device_name(index)
        native = (major, minor) >= (8, 0)
        return {
            "type": "cuda",
            "name": name,
            "bf16_native": native,
            "reason": f"the GPU ({name}, compute capability {major}.{minor}) "
            + ("computes bfloat16 natively" if native else "predates native bfloat16 (8.0)"),
        }
    flags = _cpu_flags()
    found = [f for f in _BF16_CPU_FLAGS if f in flags]
    onednn = bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    native = bool(found) and onednn
    if native:
        reason = f"the CPU computes bfloat16 natively ({', '.join(found)})"
    elif found:
        reason = f"the CPU has {', '.join(found)} but PyTorch's oneDNN reports no bfloat16 support"
    else:
        reason = "the CPU has no native bfloat16 (neither avx512_bf16 nor amx_bf16), where float32 is faster"
    return {"type": device.type, "name": torch.backends.cpu.get_cpu_capability(), "bf16_native": native, "reason": reason}


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision and layout an engine runs with.

    Attributes:
        amp: autocast on.
        amp_dtype: ``"bfloat16"`` / ``"float16"`` when ``amp``, else None.
        channels_last: NHWC (NDHWC) weights and activations.
        reason: why, for the log.
    """

    amp: bool
    amp_dtype: str | None
    channels_last: bool
    reason: str

    def describe(self) -> str:
        """``"precision: bfloat16 autocast, channels-last, because ..."``."""
        what = f"{self.amp_dtype} autocast" if self.amp else "float32"
        layout = "channels-last" if self.channels_last else "channels-first (NCHW)"
        return f"precision: {what}, {layout}, because {self.reason}"


def choose_precision(
    device: str | torch.device,
    amp: bool | str = "auto",
    amp_dtype: str | torch.dtype = "auto",
    channels_last: bool | str = "auto",
    capabilities: Mapping[str, Any] | None = None,
) -> PrecisionChoice:
    """Resolve ``auto`` settings from the device's capabilities; explicit settings are kept as given.

    Args:
        device: the engine's device.
        amp: ``"auto"``, or on/off (bool or the command line's ``"true"``/``"false"``).
        amp_dtype: ``"auto"``, ``"bfloat16"``/``"bf16"``, ``"float16"``/``"fp16"`` or a ``torch.dtype``.
        channels_last: ``"auto"`` or on/off.
        capabilities: :func:`device_capabilities` of ``device`` (computed when None; tests pass their own).

    Returns:
        The :class:`PrecisionChoice`; ``amp_dtype`` is ``"auto"`` resolved by the caller's usual rule when ``amp``
        is given explicitly and ``amp_dtype`` is ``"auto"``.
    """
    caps = dict(capabilities) if capabilities is not None else device_capabilities(device)
    on_gpu = caps["type"] == "cuda"
    fast = on_gpu or bool(caps["bf16_native"])
    reasons = []
    if is_auto(amp):
        use_amp = fast
        reasons.append(caps["reason"])
    else:
        use_amp = _flag(amp, "amp")
        reasons.append(f"--amp {str(use_amp).lower()} was given")
    dtype_name: str | None = None
    if use_amp:
        if isinstance(amp_dtype, torch.dtype):
            dtype_name = {torch.bfloat16: "bfloat16", torch.float16: "float16"}.get(amp_dtype, str(amp_dtype))
        elif is_auto(amp_dtype):
            dtype_name = "bfloat16" if caps["bf16_native"] or not on_gpu else "float16"
        else:
            dtype_name = {"bf16": "bfloat16", "fp16": "float16"}.get(str(amp_dtype).lower(), str(amp_dtype).lower())
    if is_auto(channels_last):
        use_cl = fast
    else:
        use_cl = _flag(channels_last, "channels_last")
        reasons.append(f"--channels_last {str(use_cl).lower()} was given")
    return PrecisionChoice(amp=use_amp, amp_dtype=dtype_name, channels_last=use_cl, reason="; ".join(reasons))
