"""Metrics MONAI lacks, as MONAI ``CumulativeIterationMetric``s with Ignite handlers for bundles: pixel accuracy
and pixel error, the ISBI 2012 Rand error, metrics on BraTS regions (WT / TC / ET) of multi-class labels, and a
confusion-matrix handler whose per-case details are scores. MONAI's own metrics (DiceMetric/MeanDice, MeanIoU,
HausdorffDistance, ConfusionMatrix) are used directly; see docs/losses_and_metrics.md and
bundles/common/configs/metrics.yaml."""

from metrics.handlers import ConfusionMatrixScore, PixelAccuracy, PixelError, RandError, RegionMetricHandler
from metrics.pixel_accuracy import PixelAccuracyMetric, PixelErrorMetric, compute_pixel_accuracy
from metrics.rand_error import RandErrorMetric, adapted_rand_error, binary_rand_error
from metrics.regions import BRATS_REGIONS, RegionMetric, labels_to_regions, resolve_regions

__all__ = [
    "PixelAccuracyMetric", "PixelErrorMetric", "RandErrorMetric", "RegionMetric",
    "PixelAccuracy", "PixelError", "RandError", "RegionMetricHandler", "ConfusionMatrixScore",
    "BRATS_REGIONS", "adapted_rand_error", "binary_rand_error", "compute_pixel_accuracy", "labels_to_regions",
    "resolve_regions",
]
