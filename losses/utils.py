"""Small helpers shared by our losses: a power with a finite gradient at zero, and the reduction of a loss."""

from __future__ import annotations

import torch
from monai.utils import LossReduction

__all__ = ["reduce_loss", "safe_pow"]


def safe_pow(x: torch.Tensor, exponent: float) -> torch.Tensor:
    """``x ** exponent`` for ``x >= 0`` that is exactly 0 at ``x == 0`` with a zero (not infinite/NaN) gradient there.

    Focal terms such as ``(1 - TI) ** (1 / gamma)`` with ``1 / gamma < 1`` have an infinite derivative at a perfect
    score, so autograd would give ``inf * 0 = NaN``. Negative inputs (rounding) are treated as 0.

    Args:
        x: tensor of non-negative values, any shape.
        exponent: power, ``> 0``.

    Returns:
        Tensor of the shape of ``x``.
    """
    tiny = torch.finfo(x.dtype).tiny
    positive = x > 0
    return torch.where(positive, x.clamp(min=tiny) ** exponent, torch.zeros_like(x))


def reduce_loss(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply a MONAI ``LossReduction`` (``"mean"``, ``"sum"``, ``"none"``) to a loss tensor."""
    reduction = LossReduction(reduction).value
    if reduction == LossReduction.MEAN.value:
        return loss.mean()
    if reduction == LossReduction.SUM.value:
        return loss.sum()
    return loss
