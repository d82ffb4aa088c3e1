"""Ignite handlers of our metrics, for a bundle's ``key_val_metric`` / ``additional_metrics`` (MONAI's pattern:
an ``IgniteMetricHandler`` around a ``CumulativeIterationMetric``, as ``MeanDice`` and ``MeanIoUHandler``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from monai.handlers import ConfusionMatrix, IgniteMetricHandler
from monai.metrics import CumulativeIterationMetric
from monai.metrics.confusion_matrix import compute_confusion_matrix_metric
from monai.utils import MetricReduction

from metrics.pixel_accuracy import PixelAccuracyMetric, PixelErrorMetric
from metrics.rand_error import RandErrorMetric
from metrics.regions import BRATS_REGIONS, RegionMetric

__all__ = ["ConfusionMatrixScore", "PixelAccuracy", "PixelError", "RandError", "RegionMetricHandler"]


def _identity(x):
    return x


class PixelAccuracy(IgniteMetricHandler):
    """Pixel accuracy per image, averaged over images: :class:`metrics.PixelAccuracyMetric`.

    Args:
        reduction: MONAI ``MetricReduction``, default ``"mean"``.
        output_transform: maps ``engine.state.output`` to ``(y_pred, y)``, e.g.
            ``monai.handlers.from_engine(['pred', 'label'])``; both binarised ``(B, C, *spatial)``.
        save_details: keep the per-image values in ``engine.state.metric_details`` (per-case CSV of MetricsSaver).
    """

    metric_class: type = PixelAccuracyMetric

    def __init__(
        self,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        output_transform: Callable = _identity,
        save_details: bool = True,
    ) -> None:
        metric_fn = self.metric_class(reduction=reduction)
        super().__init__(metric_fn, output_transform=output_transform, save_details=save_details)


class PixelError(PixelAccuracy):
    """Pixel error (ISBI 2012) per image, averaged over images: :class:`metrics.PixelErrorMetric`.

    Args: as :class:`PixelAccuracy`.
    """

    metric_class = PixelErrorMetric


class RandError(IgniteMetricHandler):
    """Adapted Rand error (ISBI 2012) per image and channel, averaged: :class:`metrics.RandErrorMetric`.

    Args:
        connectivity: 1 (4-neighbours in 2D, 6 in 3D; default) up to ``ndim``.
        alpha: weight of the precision-like term of the F-score (0.5: F1).
        ignore_empty: empty ground truth → NaN (True, skipped by the mean) or 0 / 1 (False).
        reduction: MONAI ``MetricReduction``, default ``"mean"``.
        output_transform: maps ``engine.state.output`` to binarised ``(y_pred, y)``.
        save_details: keep the per-image values in ``engine.state.metric_details``.
    """

    def __init__(
        self,
        connectivity: int = 1,
        alpha: float = 0.5,
        ignore_empty: bool = True,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        output_transform: Callable = _identity,
        save_details: bool = True,
    ) -> None:
        metric_fn = RandErrorMetric(connectivity=connectivity, alpha=alpha, ignore_empty=ignore_empty, reduction=reduction)
        super().__init__(metric_fn, output_transform=output_transform, save_details=save_details)


class RegionMetricHandler(IgniteMetricHandler):
    """A MONAI metric on label regions (BraTS WT / TC / ET by default): :class:`metrics.RegionMetric`.

    YAML (BraTS Dice per region, challenge convention for empty regions)::

        val_brats_dice:
          _target_: metrics.RegionMetricHandler
          metric: {_target_: DiceMetric, include_background: true, ignore_empty: false}
          regions: [WT, TC, ET]
          output_transform: "$monai.handlers.from_engine(['pred', 'label'])"

    Args:
        metric: the MONAI ``CumulativeIterationMetric`` applied to the region channels (``include_background=True``).
        regions: names of :data:`metrics.BRATS_REGIONS` or a mapping name → labels; default WT, TC, ET. One region
            gives that region's score (e.g. ``[ET]``).
        reduction: MONAI ``MetricReduction``, default ``"mean"`` (over regions, then cases).
        output_transform: maps ``engine.state.output`` to ``(y_pred, y)``: label maps ``(B, 1, ...)`` (argmax'ed
            prediction) or one-hot ``(B, C, ...)``.
        save_details: keep the per-case, per-region values in ``engine.state.metric_details``.
    """

    def __init__(
        self,
        metric: CumulativeIterationMetric,
        regions: Sequence[str] | Mapping[str, Sequence[int]] = tuple(BRATS_REGIONS),
        reduction: MetricReduction | str = MetricReduction.MEAN,
        output_transform: Callable = _identity,
        save_details: bool = True,
    ) -> None:
        metric_fn = RegionMetric(metric, regions=regions, reduction=reduction)
        super().__init__(metric_fn, output_transform=output_transform, save_details=save_details)


class ConfusionMatrixScore(ConfusionMatrix):
    """MONAI's :class:`~monai.handlers.ConfusionMatrix` handler whose per-case details are the scores.

    The value is MONAI's (e.g. ``metric_name="precision"``, ``"recall"``/``"sensitivity"``, ``"specificity"``,
    ``"accuracy"``). MONAI keeps the raw ``(N, C, 4)`` TP/FP/TN/FN counts as details, which ``MetricsSaver``
    cannot write as a per-case table; here the details are the ``(N, C)`` per-case scores instead.

    With ``compute_sample=True`` the score is computed per case then averaged (as Dice and IoU); with ``False``
    (MONAI's default) the counts are pooled over all cases first. A ratio whose denominator is 0 is NaN per case
    (precision with an empty prediction, recall with an empty ground truth, specificity with an all-foreground
    ground truth) and skipped by the mean; if every case is NaN the mean is 0 (MONAI's reduction).

    Args: as MONAI's ``ConfusionMatrix`` (``include_background``, ``metric_name``, ``compute_sample``,
    ``reduction``, ``output_transform``, ``save_details``).
    """

    def compute(self):
        result = super().compute()
        if self.save_details:
            counts = self.metric_fn.get_buffer()
            self._engine.state.metric_details[self._name] = compute_confusion_matrix_metric(self.metric_name, counts)
        return result
