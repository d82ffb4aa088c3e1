"""Cross-entropy losses in MONAI's segmentation layout: class-weighted binary CE (seed 002) and categorical CE
(seed 001) taking ``(B, 1, ...)`` class-index labels."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

__all__ = ["CrossEntropyLoss", "WeightedBCELoss"]


class WeightedBCELoss(_Loss):
    """Binary cross-entropy on logits with one weight per class (background, foreground), applied per pixel.

    ``loss = mean( -[w_1 * y * log sigmoid(x) + w_0 * (1 - y) * log(1 - sigmoid(x))] )``.

    Seed 002 (U-Net on ISBI 2012) weights the two classes by their inverse frequencies in the training masks:
    compute them once with :func:`losses.class_frequency_weights` and pass them here (YAML:
    ``bundles/common/configs/losses.yaml#weighted_bce``). With the default ``(1, 1)`` this is
    ``torch.nn.BCEWithLogitsLoss``. Unlike its ``pos_weight``, both classes can be weighted, and the mean is over
    pixels (not normalised by the weights), so frequency weights that satisfy ``sum_c w_c N_c = N`` keep the loss on
    the scale of the unweighted BCE.

    Every channel is an independent binary (sigmoid) problem; the same two weights apply to each channel.

    Args:
        class_weights: ``(w_background, w_foreground)``, each ``> 0``; a sequence or a tensor of 2 values.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per-pixel loss of the input's shape).
    """

    def __init__(
        self,
        class_weights: Sequence[float] | torch.Tensor = (1.0, 1.0),
        reduction: LossReduction | str = LossReduction.MEAN,
    ) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        weights = torch.as_tensor(class_weights, dtype=torch.float32).flatten()
        if weights.numel() != 2 or not bool((weights > 0).all()):
            raise ValueError(f"class_weights must be 2 positive values (background, foreground), got {class_weights}.")
        self.register_buffer("class_weights", weights)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: ``(B, C, *spatial)`` logits.
            target: ``(B, C, *spatial)`` in ``[0, 1]`` (binary masks; soft labels interpolate the weights).

        Returns:
            A scalar, or the per-pixel loss of the input's shape with ``reduction="none"``.
        """
        if target.shape != input.shape:
            raise ValueError(f"target shape {tuple(target.shape)} must equal the input shape {tuple(input.shape)}.")
        target = target.to(input.dtype)
        w_background, w_foreground = self.class_weights.to(input.device, input.dtype)
        pixel_weight = w_background + (w_foreground - w_background) * target
        return F.binary_cross_entropy_with_logits(input, target, weight=pixel_weight, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """Categorical cross-entropy on logits of mutually exclusive classes (softmax), MONAI label layout.

    ``torch.nn.functional.cross_entropy`` after turning a ``(B, 1, ...)`` class-index target (MONAI's layout) or a
    one-hot ``(B, C, ...)`` target into ``(B, ...)`` indices. The original U-Net and seed 001 train with it.

    With class ``weight`` (e.g. from :func:`losses.class_frequency_weights`) and ``reduction="mean"`` the sum is
    divided by the summed weights of the target pixels (PyTorch's weighted mean), not by the pixel count.

    Args:
        weight: optional class weights, ``C`` values.
        label_smoothing: in ``[0, 1]``, as in PyTorch.
        ignore_index: target index that does not contribute (PyTorch's, default -100).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (shape ``(B, *spatial)``).
    """

    def __init__(
        self,
        weight: Sequence[float] | torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        ignore_index: int = -100,
        reduction: LossReduction | str = LossReduction.MEAN,
    ) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight, dtype=torch.float32).flatten())
        self.label_smoothing, self.ignore_index = float(label_smoothing), int(ignore_index)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: ``(B, C, *spatial)`` logits, ``C >= 2``.
            target: ``(B, 1, *spatial)`` class indices in ``[0, C)``, or one-hot ``(B, C, *spatial)``.

        Returns:
            A scalar, or the per-pixel loss ``(B, *spatial)`` with ``reduction="none"``.
        """
        n_classes = input.shape[1]
        if n_classes < 2:
            raise ValueError("categorical cross-entropy needs C >= 2 channels; use BCE for one sigmoid channel.")
        if target.shape[1] == 1:
            indices = target[:, 0]
        elif target.shape[1] == n_classes:
            indices = target.argmax(dim=1)
        else:
            raise ValueError(f"target must have 1 (indices) or {n_classes} (one-hot) channels, got {tuple(target.shape)}.")
        if indices.shape != input.shape[:1] + input.shape[2:]:
            raise ValueError(f"target shape {tuple(target.shape)} does not match the input shape {tuple(input.shape)}.")
        weight = None if self.weight is None else self.weight.to(input.device, input.dtype)
        return F.cross_entropy(
            input, indices.long(), weight=weight, ignore_index=self.ignore_index, reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )
