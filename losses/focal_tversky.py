"""Focal Tversky loss (Abraham & Khan 2018), built on MONAI's TverskyLoss."""

from __future__ import annotations

from collections.abc import Callable

import torch
from monai.losses import TverskyLoss
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

from losses.utils import reduce_loss, safe_pow

__all__ = ["FocalTverskyLoss"]


class FocalTverskyLoss(_Loss):
    """Focal Tversky loss: ``FTL_c = (1 - TI_c) ** (1 / gamma)``, averaged over classes (and images).

    Abraham & Khan 2018, "A novel focal Tversky loss function with improved attention U-Net for lesion
    segmentation" (ISBI 2019, arXiv:1810.07842), with the Tversky index per class ``c``

        ``TI_c = (TP_c + smooth_nr) / (TP_c + alpha * FN_c + beta * FP_c + smooth_dr)``,

    ``TP_c = sum(p * g)``, ``FN_c = sum((1 - p) * g)``, ``FP_c = sum(p * (1 - g))`` over the spatial dims (and the
    batch with ``batch=True``). ``alpha = beta = 0.5`` and ``gamma = 1`` give the Dice loss; the paper's choice is
    ``alpha = 0.7``, ``beta = 0.3``, ``gamma = 4/3``.

    Naming: ``alpha`` weights the false **negatives** and ``beta`` the false positives, as in the paper. MONAI's
    :class:`~monai.losses.TverskyLoss` (used here for ``1 - TI``) names them the other way round
    (``alpha`` = false positives). ``gamma`` is the paper's: the exponent is ``1 / gamma`` (the authors' Keras
    code writes the exponent ``0.75 = 1 / (4/3)`` directly).

    Empty masks: an empty ground truth with an empty (all zero) prediction gives ``TI = 1`` and a loss of 0; an
    empty ground truth with any positive prediction mass ``m`` gives ``TI = smooth_nr / (beta m + smooth_dr)``,
    i.e. a loss near 1 per image (use ``batch=True`` to pool the batch instead, which dilutes empty slices).

    Args:
        include_background: if False, channel 0 (background) is excluded from the loss.
        to_onehot_y: convert the target ``(B, 1, ...)`` of class indices to one-hot ``(B, C, ...)``.
        sigmoid: apply a sigmoid to the input (logits of independent channels, e.g. one foreground channel).
        softmax: apply a softmax over the channels (logits of mutually exclusive classes).
        other_act: another activation callable instead of sigmoid/softmax.
        alpha: weight of false negatives, ``>= 0``. Default 0.7.
        beta: weight of false positives, ``>= 0``. Default 0.3.
        gamma: focal parameter, ``> 0``; the exponent is ``1 / gamma``. Default ``4/3``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (shape ``(B, C)``, or ``(C,)`` with ``batch``).
        smooth_nr: added to the numerator of ``TI``.
        smooth_dr: added to the denominator of ``TI``.
        batch: sum TP/FP/FN over the batch before forming ``TI`` (one index per class for the whole batch).
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        alpha: float = 0.7,
        beta: float = 0.3,
        gamma: float = 4.0 / 3.0,
        reduction: LossReduction | str = LossReduction.MEAN,
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
    ) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        if alpha < 0 or beta < 0:
            raise ValueError(f"alpha and beta must be >= 0, got alpha={alpha}, beta={beta}.")
        if gamma <= 0:
            raise ValueError(f"gamma must be > 0 (the exponent is 1 / gamma), got {gamma}.")
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        # MONAI: alpha weights false positives, beta false negatives
        self.tversky = TverskyLoss(
            include_background=include_background,
            to_onehot_y=to_onehot_y,
            sigmoid=sigmoid,
            softmax=softmax,
            other_act=other_act,
            alpha=self.beta,
            beta=self.alpha,
            reduction=LossReduction.NONE,
            smooth_nr=smooth_nr,
            smooth_dr=smooth_dr,
            batch=batch,
        )

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: ``(B, C, *spatial)`` logits (with ``sigmoid``/``softmax``) or probabilities.
            target: ``(B, C, *spatial)`` binary/one-hot, or ``(B, 1, *spatial)`` class indices with ``to_onehot_y``.

        Returns:
            A scalar (``"mean"``/``"sum"``), or the per image and class loss ``(B, C)`` (``"none"``).
        """
        one_minus_ti = self.tversky(input, target)
        return reduce_loss(safe_pow(one_minus_ti, 1.0 / self.gamma), self.reduction)
