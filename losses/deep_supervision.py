"""Deep supervision: MONAI's DeepSupervisionLoss, also for heads stacked in one tensor, with checked weights."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.losses import DeepSupervisionLoss as _MonaiDeepSupervisionLoss
from torch.nn.modules.loss import _Loss

__all__ = ["DeepSupervisionLoss", "nnunet_weights"]

WEIGHT_MODES = ("same", "exp", "two", "nnunet")


def nnunet_weights(levels: int) -> list[float]:
    """nnU-Net's deep-supervision weights for ``levels`` outputs ordered coarsest first, final output last.

    ``w_l ∝ 2^-(levels - 1 - l)`` (1 for the final output, halving per level away from it), the coarsest output
    gets 0 (nnU-Net excludes the lowest resolution), normalised to sum 1. One output: ``[1.0]``. Four outputs
    (a depth-4 U-Net with heads on every decoder level): ``[0, 1/7, 2/7, 4/7]``.

    Raises:
        ValueError: ``levels < 1``.
    """
    if levels < 1:
        raise ValueError(f"deep supervision needs at least one output, got levels={levels}.")
    if levels == 1:
        return [1.0]
    raw = [0.5 ** (levels - 1 - l) for l in range(levels)]
    raw[0] = 0.0
    total = sum(raw)
    return [w / total for w in raw]


class DeepSupervisionLoss(_MonaiDeepSupervisionLoss):
    """``sum_l w_l * loss(output_l, target)`` over the outputs of a deeply supervised network.

    MONAI's :class:`~monai.losses.DeepSupervisionLoss` (targets resized by nearest neighbour to smaller outputs;
    ``weight_mode`` ``"same"``, ``"exp"``, ``"two"``) with two changes:

    * a single tensor with one dimension more than the target, ``(B, L, C, *spatial)``, is taken as ``L`` heads
      stacked on ``stack_dim`` (as our UNet++ and MONAI's DynUNet return them in training) and unbound; a tensor
      of the target's rank is one output and goes to ``loss`` unchanged (a network in eval mode);
    * ``weights``, when given, must have one value per output: MONAI silently falls back to ``weight_mode`` when
      the list is shorter.

    Order matters for ``"exp"`` and ``"two"`` (weight 1 on the *first* output, MONAI's DynUNet convention of the
    final output first). Our UNet++ stacks its heads from the shallowest ``x^{0,1}`` to the final ``x^{0,L}``,
    and the modular U-Net with ``deep_supervision`` from the coarsest decoder level to the final output, so the
    default here is ``"same"`` (UNet++ weights every head equally; the sum is not averaged) and ``"nnunet"`` is
    written for the final output *last*.

    Args:
        loss: the loss applied to every output, e.g. ``DiceCELoss(sigmoid=True, lambda_ce=0.5)`` (UNet++ hybrid).
        weight_mode: ``"same"`` (default: all 1), ``"exp"`` (1, 0.5, 0.25, ..., at least 0.0625), ``"two"``
            (1, 0.5, 0.5, ...) or ``"nnunet"`` (:func:`nnunet_weights`: final output last, halving per level
            away from it, the first (coarsest) output 0, normalised to sum 1).
        weights: explicit weights, one per output (overrides ``weight_mode``).
        stack_dim: dimension of a stacked output that indexes the heads.
    """

    def __init__(
        self,
        loss: _Loss,
        weight_mode: str = "same",
        weights: Sequence[float] | None = None,
        stack_dim: int = 1,
    ) -> None:
        if weight_mode not in WEIGHT_MODES:
            raise ValueError(f"weight_mode must be one of {', '.join(WEIGHT_MODES)}, got {weight_mode!r}.")
        weights = None if weights is None else [float(w) for w in weights]
        super().__init__(loss=loss, weight_mode=weight_mode, weights=weights)
        self.stack_dim = stack_dim

    def get_weights(self, levels: int = 1) -> list[float]:
        if self.weights is not None and len(self.weights) != levels:
            raise ValueError(f"{len(self.weights)} deep-supervision weights given for {levels} outputs.")
        if self.weights is None and self.weight_mode == "nnunet":
            return nnunet_weights(max(1, levels))
        return super().get_weights(levels)

    def forward(self, input: torch.Tensor | Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: a list/tuple of ``(B, C, *spatial_l)`` outputs, a stacked ``(B, L, C, *spatial)`` tensor, or one
                ``(B, C, *spatial)`` output.
            target: ``(B, C_t, *spatial)``, resized (nearest) to each output's spatial size when they differ.

        Returns:
            The weighted sum of the per-output losses (a scalar for reducing losses).
        """
        if isinstance(input, torch.Tensor) and input.dim() == target.dim() + 1:
            input = list(torch.unbind(input, dim=self.stack_dim))
        if isinstance(input, (list, tuple)) and len(input) == 0:
            raise ValueError("deep supervision got an empty list of outputs.")
        return super().forward(input, target)
