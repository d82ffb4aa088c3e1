"""Asymmetric Unified Focal loss (Yeung et al. 2022) for sigmoid (binary / multi-label) and softmax outputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.networks import one_hot
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

from losses.utils import reduce_loss, safe_pow

__all__ = ["UnifiedFocalLoss"]


class UnifiedFocalLoss(_Loss):
    """Asymmetric Unified Focal loss: ``weight * L_aF + (1 - weight) * L_aFT``.

    Yeung, Sala, Schönlieb & Rundo 2022, "Unified Focal loss: Generalising Dice and cross entropy-based losses to
    handle class imbalanced medical image segmentation" (Comput. Med. Imaging Graph. 95, 102026), the asymmetric
    variant (suppresses the background, enhances the foreground). With probabilities ``p_k`` and one-hot targets
    ``y_k`` of classes ``k = 0 (background), 1, ..., K-1``:

    * asymmetric focal loss, per pixel summed over the classes and averaged over pixels:
      ``L_aF = -(1 - delta) * (1 - p_0) ** gamma * y_0 * log p_0 - delta * sum_{k>=1} y_k * log p_k``;
    * asymmetric focal Tversky loss, per image averaged over the classes:
      ``L_aFT = mean_k [ 1 - mTI_0  (k = 0);  (1 - mTI_k) ** (1 - gamma)  (k >= 1) ]``, with
      ``mTI_k = (TP_k + eps) / (TP_k + delta * FN_k + (1 - delta) * FP_k + eps)`` over the spatial dims.

    For two classes these are the authors' reference (Keras) formulas. Defaults are the paper's (``weight = 0.5``,
    ``delta = 0.6``, ``gamma = 0.5``). ``weight`` multiplies the focal (cross-entropy) part, as in the paper's
    equation and MONAI; the authors' code puts it on the Tversky part (the same at 0.5). One deliberate difference:
    the reference clips the probabilities to ``[eps, 1 - eps]`` before forming ``mTI``, so an image with an empty
    ground truth has ``FP >= N * eps`` and a foreground term near 1 whatever the prediction; here ``mTI`` uses the
    probabilities themselves (the paper's formula) and the logs come from ``logsigmoid``/``log_softmax``.

    Outputs:

    * ``sigmoid=True``: each of the ``C`` input channels is an independent binary problem (one foreground
      channel, or multi-label region channels such as BraTS WT/TC/ET); channel ``c`` is expanded to the two
      classes ``(1 - p_c, p_c)`` and the loss is averaged over the channels. The target has the input's shape.
    * ``softmax=True``: ``C >= 2`` mutually exclusive classes, channel 0 the background; the target is one-hot
      ``(B, C, ...)`` or class indices ``(B, 1, ...)`` with ``to_onehot_y=True``.
    * neither: the input is already probabilities with the softmax layout above.

    Compared with MONAI's :class:`~monai.losses.AsymmetricUnifiedFocalLoss` (binary only, probabilities only,
    no activation despite its docstring): where its clipping to ``[eps, 1 - eps]`` is inactive, the Tversky part
    is the same and our focal part is twice MONAI's, which averages it over the two classes instead of summing as
    the reference does (tests/losses/test_unified_focal.py checks both).

    Empty masks: for an empty ground truth and an empty prediction (probabilities -> 0) every term tends to 0;
    an empty ground truth with foreground probability mass ``m`` gives ``mTI = eps / ((1 - delta) m + eps)``, so
    the foreground Tversky term ``(1 - mTI) ** (1 - gamma)`` is near 1 once ``m >> eps`` (steeply, through the
    square root for ``gamma = 0.5``). Use ``batch=True`` to pool ``mTI`` over the batch.

    Args:
        sigmoid: apply a sigmoid per channel (independent binary channels).
        softmax: apply a softmax over the channels (exclusive classes, channel 0 background).
        to_onehot_y: convert a ``(B, 1, ...)`` class-index target to one-hot (softmax/probability layout only).
        weight: ``lambda`` in ``[0, 1]``, the weight of the focal part (``1 - weight`` for the Tversky part).
        delta: in ``[0, 1]``; weight of the foreground in the focal part and of false negatives in ``mTI``.
        gamma: in ``[0, 1]``; background suppression ``(1 - p_0) ** gamma`` and foreground enhancement
            ``(1 - mTI) ** (1 - gamma)``.
        epsilon: smoothing of ``mTI`` (numerator and denominator); probabilities given without ``sigmoid``/
            ``softmax`` are clipped to ``[eps, 1 - eps]`` before their log.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (shape ``(B, G)``: ``G = C`` channels with sigmoid,
            ``G = 1`` otherwise).
        batch: pool TP/FP/FN over the batch for ``mTI`` (the focal part is per pixel either way).
    """

    def __init__(
        self,
        sigmoid: bool = False,
        softmax: bool = False,
        to_onehot_y: bool = False,
        weight: float = 0.5,
        delta: float = 0.6,
        gamma: float = 0.5,
        epsilon: float = 1e-7,
        reduction: LossReduction | str = LossReduction.MEAN,
        batch: bool = False,
    ) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        if sigmoid and softmax:
            raise ValueError("sigmoid and softmax are exclusive; choose one.")
        if sigmoid and to_onehot_y:
            raise ValueError("to_onehot_y applies to softmax outputs; with sigmoid the target has the input's shape.")
        for name, value in (("weight", weight), ("delta", delta), ("gamma", gamma)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}.")
        self.sigmoid, self.softmax, self.to_onehot_y = sigmoid, softmax, to_onehot_y
        self.weight, self.delta, self.gamma, self.epsilon = float(weight), float(delta), float(gamma), float(epsilon)
        self.batch = batch

    def _classes(self, input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Probabilities, log-probabilities and one-hot targets laid out ``(B, G, K, *spatial)``."""
        if self.sigmoid:
            if target.shape != input.shape:
                raise ValueError(
                    f"with sigmoid the target must have the input's shape {tuple(input.shape)}, got {tuple(target.shape)}."
                )
            x = input.float()
            logp = torch.stack([F.logsigmoid(-x), F.logsigmoid(x)], dim=2)
            y = target.to(x.dtype)
            return logp.exp(), logp, torch.stack([1 - y, y], dim=2)
        n_classes = input.shape[1]
        if n_classes < 2:
            raise ValueError("a single-channel output needs sigmoid=True (it holds the foreground probability).")
        if self.to_onehot_y:
            target = one_hot(target, num_classes=n_classes)
        if target.shape != input.shape:
            raise ValueError(f"target shape {tuple(target.shape)} differs from input {tuple(input.shape)} (to_onehot_y?).")
        if self.softmax:
            logp = F.log_softmax(input.float(), dim=1)
            p = logp.exp()
        else:
            p = input.float().clamp(self.epsilon, 1.0 - self.epsilon)
            logp = p.log()
        return p.unsqueeze(1), logp.unsqueeze(1), target.to(p.dtype).unsqueeze(1)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: ``(B, C, *spatial)`` logits (``sigmoid``/``softmax``) or probabilities (softmax layout).
            target: ``(B, C, *spatial)`` binary/one-hot, or ``(B, 1, *spatial)`` indices with ``to_onehot_y``.

        Returns:
            A scalar (``"mean"``/``"sum"``), or the per image (and sigmoid channel) loss ``(B, G)`` (``"none"``).
        """
        if input.dim() < 3:
            raise ValueError(f"input must be (B, C, *spatial), got shape {tuple(input.shape)}.")
        p, logp, y = self._classes(input, target)  # (B, G, K, *S)
        spatial = list(range(3, p.dim()))

        # asymmetric focal: background suppressed by (1 - p_0)^gamma, foreground weighted by delta
        ce = -y * logp
        background = (1.0 - self.delta) * safe_pow((1.0 - p[:, :, 0]).clamp(min=0), self.gamma) * ce[:, :, 0]
        foreground = self.delta * ce[:, :, 1:].sum(dim=2)
        focal = (background + foreground).flatten(2).mean(dim=2)  # (B, G)

        # asymmetric focal Tversky: foreground enhanced by (1 - mTI)^(1 - gamma)
        dims = spatial if not self.batch else [0] + spatial
        tp = (y * p).sum(dim=dims)
        fn = (y * (1 - p)).sum(dim=dims)
        fp = ((1 - y) * p).sum(dim=dims)
        mti = (tp + self.epsilon) / (tp + self.delta * fn + (1 - self.delta) * fp + self.epsilon)  # (B, G, K) or (G, K)
        tversky = torch.cat([1 - mti[..., :1], safe_pow(1 - mti[..., 1:], 1.0 - self.gamma)], dim=-1).mean(dim=-1)
        if self.batch:
            tversky = tversky.unsqueeze(0).expand_as(focal)

        return reduce_loss(self.weight * focal + (1.0 - self.weight) * tversky, self.reduction)
