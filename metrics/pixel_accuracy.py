"""Pixel accuracy and pixel error (ISBI 2012) as MONAI cumulative metrics."""

from __future__ import annotations

import torch
from monai.metrics.utils import is_binary_tensor
from monai.utils import MetricReduction

from metrics.reduction import ReducedCumulativeMetric

__all__ = ["PixelAccuracyMetric", "PixelErrorMetric", "compute_pixel_accuracy"]


def compute_pixel_accuracy(y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of pixels whose label is right, per image: ``(TP + TN) / (TP + TN + FP + FN)``.

    A pixel is right when every channel agrees: for one binary channel that is the usual binary accuracy, for
    one-hot channels of exclusive classes it is the multi-class pixel accuracy (predicted class == true class,
    seed 001's "accuracy"; unlike MONAI's ConfusionMatrixMetric "accuracy", which scores each channel apart).

    Args:
        y_pred: ``(B, C, *spatial)`` binarised prediction (thresholded, or argmax then one-hot).
        y: ``(B, C, *spatial)`` binary ground truth.

    Returns:
        ``(B, 1)`` accuracy per image. Always defined: an empty ground truth with an empty prediction scores 1,
        with ``k`` false positive pixels out of ``N`` it scores ``1 - k / N``.
    """
    if y_pred.shape != y.shape:
        raise ValueError(f"y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)} must have the same shape.")
    if y_pred.dim() < 3:
        raise ValueError(f"expected (B, C, *spatial), got shape {tuple(y_pred.shape)}.")
    right = (y_pred == y).all(dim=1)  # (B, *spatial)
    return right.flatten(1).float().mean(dim=1, keepdim=True)


class PixelAccuracyMetric(ReducedCumulativeMetric):
    """Pixel accuracy per image, averaged over images (MONAI ``CumulativeIterationMetric``).

    See :func:`compute_pixel_accuracy`. One value per batch item: per slice for a 2D batch, per volume for the
    whole-volume validation of the bundles. Use in a bundle through :class:`metrics.PixelAccuracy`.

    Args:
        reduction: MONAI ``MetricReduction`` over the buffered ``(N, 1)`` values, default ``"mean"`` (over images).
        get_not_nans: ``aggregate()`` also returns the count of non-NaN values.
    """

    def __init__(self, reduction: MetricReduction | str = MetricReduction.MEAN, get_not_nans: bool = False) -> None:
        super().__init__()
        self.reduction = reduction
        self.get_not_nans = get_not_nans

    def _score(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return compute_pixel_accuracy(y_pred, y)

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """``(B, 1)`` scores of a batch of binarised ``(B, C, *spatial)`` predictions and labels."""
        is_binary_tensor(y_pred, "y_pred")
        is_binary_tensor(y, "y")
        return self._score(y_pred, y)


class PixelErrorMetric(PixelAccuracyMetric):
    """Pixel error ``1 - pixel accuracy``: the fraction of mislabelled pixels, per image, averaged over images.

    The ISBI 2012 EM segmentation challenge's pixel error (seed 002): the Hamming distance between the binary
    labelling and the ground truth divided by the pixel count, at the binarisation given (seed 002 thresholds at
    0.5). The challenge's leaderboard took the best over several thresholds of a probability map; threshold
    yourself and evaluate each threshold to reproduce that. Empty masks: see :func:`compute_pixel_accuracy`.

    Args:
        reduction: MONAI ``MetricReduction``, default ``"mean"`` (over images).
        get_not_nans: ``aggregate()`` also returns the count of non-NaN values.
    """

    def _score(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 1.0 - compute_pixel_accuracy(y_pred, y)
