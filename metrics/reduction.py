"""Base class of our cumulative metrics: per-image values buffered, reduced with MONAI's reduction."""

from __future__ import annotations

import torch
from monai.metrics import CumulativeIterationMetric
from monai.metrics.utils import do_metric_reduction
from monai.utils import MetricReduction

__all__ = ["ReducedCumulativeMetric"]


class ReducedCumulativeMetric(CumulativeIterationMetric):
    """A :class:`~monai.metrics.CumulativeIterationMetric` whose subclasses set ``self.reduction`` and
    ``self.get_not_nans`` and buffer ``(N, C)`` values; NaNs (undefined cases, e.g. empty ground truths) are
    skipped by the reduction, all-NaN gives 0 (MONAI's ``do_metric_reduction``)."""

    reduction: MetricReduction | str = MetricReduction.MEAN
    get_not_nans: bool = False

    def aggregate(
        self, reduction: MetricReduction | str | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Reduce the buffered per-image values (``reduction`` overrides the constructor's)."""
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError("the data to aggregate must be a PyTorch Tensor.")
        f, not_nans = do_metric_reduction(data, reduction or self.reduction)
        return (f, not_nans) if self.get_not_nans else f
