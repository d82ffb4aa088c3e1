"""Choose a network's width so that it has a target number of parameters (seed 000 builds every variant at
8.5 M parameters to compare architectures fairly).

The base width is a real number ``w``; level ``i`` gets ``round(w · 2^i)`` feature maps, so the parameter
count moves in steps of a few thousand and any target above a few hundred thousand is met within 0.1–0.5 %.
Candidates are built on PyTorch's ``meta`` device (no memory, no initialisation), so solving takes seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from networks.nets.modular_unet import ModularUNet

__all__ = ["count_parameters", "solve_width", "budgeted_modular_unet"]


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def solve_width(
    build: Callable[[float], nn.Module], target_params: int, tolerance: float = 0.01, low: float = 1.0, high: float = 512.0
) -> tuple[float, int]:
    """Find the base width ``w`` in ``[low, high]`` whose ``build(w)`` has the parameter count closest to the target.

    Args:
        build: maps a base width to a network (called on the meta device).
        target_params: wanted number of trainable parameters.
        tolerance: largest accepted relative difference.

    Returns:
        ``(width, parameter_count)``.

    Raises:
        ValueError: the target is outside what ``[low, high]`` can give, or no width is within ``tolerance``.
    """

    def params(w: float) -> int:
        with torch.device("meta"):
            return count_parameters(build(w))

    lo_n, hi_n = params(low), params(high)
    if not lo_n <= target_params <= hi_n:
        raise ValueError(f"target of {target_params:,} parameters is outside [{lo_n:,}, {hi_n:,}] for widths [{low}, {high}].")
    lo, hi = low, high
    for _ in range(60):  # bisection on a monotone step function
        mid = (lo + hi) / 2
        if params(mid) < target_params:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-4:
            break
    best = min(((w, params(w)) for w in (lo, hi)), key=lambda t: abs(t[1] - target_params))
    err = abs(best[1] - target_params) / target_params
    if err > tolerance:
        raise ValueError(
            f"closest width {best[0]:.4f} gives {best[1]:,} parameters, {err:.2%} from the target "
            f"{target_params:,} (tolerance {tolerance:.2%})."
        )
    return best[0], best[1]


def budgeted_modular_unet(target_params: int | None = None, tolerance: float = 0.01, **kwargs: Any) -> ModularUNet:
    """A :class:`ModularUNet` whose base width is solved so it has ``target_params`` parameters (deep-supervision
    heads, when ``deep_supervision=True``, are counted in the budget).

    With ``target_params`` ``None`` or 0 the given ``features`` are used unchanged, so one bundle key switches
    the budget on and off (``--target_params 0`` on the command line: MONAI's CLI drops ``None`` overrides). All other arguments are those of :class:`ModularUNet`.

    Example (YAML)::

        network_def:
          _target_: networks.budgeted_modular_unet
          target_params: 8500000
          conv_block: nasnet_normal
    """
    if not target_params:
        return ModularUNet(**kwargs)
    kwargs.pop("features", None)
    width, _ = solve_width(lambda w: ModularUNet(features=w, **kwargs), int(target_params), tolerance)
    return ModularUNet(features=width, **kwargs)
