"""A loss that turns NaN after a given number of calls: the tests declare it with `--loss` to force a non-finite
loss in the middle of a bundle run."""

from __future__ import annotations

import torch
from monai.losses import DiceLoss


class NaNAfterCalls(torch.nn.Module):
    """The unet bundle's Dice loss for the first ``calls`` training calls, NaN from then on (the gradient is NaN too).

    Only calls with gradients enabled count: the validation loss (``val_loss``, computed under ``no_grad``) calls
    the same loss object.

    Args:
        calls: number of calls that return the real loss.
    """

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls = calls
        self.count = 0
        self.dice = DiceLoss(sigmoid=True, batch=True)

    def forward(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        self.count += int(torch.is_grad_enabled())
        loss = self.dice(pred, label)
        return loss if self.count <= self.calls else loss * float("nan")
