"""Metrics on unions of labels ("regions"), e.g. the BraTS whole tumour, tumour core and enhancing tumour."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from monai.metrics import CumulativeIterationMetric
from monai.utils import MetricReduction

from metrics.reduction import ReducedCumulativeMetric

__all__ = ["BRATS_REGIONS", "RegionMetric", "labels_to_regions", "resolve_regions"]

# BraTS 2020 labels 0 (background), 1 (necrotic / non-enhancing core), 2 (oedema), 4 (enhancing) mapped to 0..3
BRATS_REGIONS: dict[str, tuple[int, ...]] = {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}


def resolve_regions(regions: Sequence[str] | Mapping[str, Sequence[int]]) -> dict[str, tuple[int, ...]]:
    """Region names → label tuples: a mapping as given, or names of :data:`BRATS_REGIONS` (``["WT", "TC", "ET"]``)."""
    if isinstance(regions, Mapping):
        resolved = {str(k): tuple(int(v) for v in vs) for k, vs in regions.items()}
    else:
        if isinstance(regions, str):
            regions = [regions]
        unknown = [r for r in regions if r not in BRATS_REGIONS]
        if unknown:
            raise ValueError(f"unknown region names {unknown}; BraTS names: {list(BRATS_REGIONS)}, or give a mapping.")
        resolved = {r: BRATS_REGIONS[r] for r in regions}
    if not resolved or any(not labels for labels in resolved.values()):
        raise ValueError(f"regions must be non-empty and each hold at least one label, got {regions}.")
    return resolved


def labels_to_regions(
    labels: torch.Tensor, regions: Sequence[str] | Mapping[str, Sequence[int]] = tuple(BRATS_REGIONS)
) -> torch.Tensor:
    """One binary channel per region: the union of its labels.

    Args:
        labels: ``(B, 1, *spatial)`` class indices, or ``(B, C, *spatial)`` one-hot / scores with ``C > 1``
            (reduced by argmax over the channels first).
        regions: region names of :data:`BRATS_REGIONS` or a mapping name → labels; default WT, TC, ET.

    Returns:
        ``(B, R, *spatial)`` float tensor of 0/1, channels in the order of ``regions``.
    """
    if labels.dim() < 3:
        raise ValueError(f"expected (B, C, *spatial), got shape {tuple(labels.shape)}.")
    index = labels.argmax(dim=1, keepdim=True) if labels.shape[1] > 1 else labels.round().long()
    channels = [torch.isin(index, torch.tensor(ls, device=index.device)) for ls in resolve_regions(regions).values()]
    return torch.cat(channels, dim=1).float()


class RegionMetric(ReducedCumulativeMetric):
    """Any MONAI per-channel metric on label regions (BraTS WT / TC / ET by default) of multi-class outputs.

    The prediction and the label are turned into one binary channel per region by :func:`labels_to_regions`
    (a ``(B, 1, ...)`` label map, or one-hot channels), then ``metric`` scores each region channel: e.g.
    ``DiceMetric`` for the BraTS Dice per region, ``HausdorffDistanceMetric(percentile=95)`` for its HD95. The
    buffer holds ``(N, R)`` values (per image / volume and region: the per-case CSV of ``MetricsSaver`` gets one
    column per region, ``class0..`` in the order of ``regions``).

    Empty regions (often ET): scored by ``metric``'s own convention. MONAI's ``DiceMetric``/``MeanIoU`` with
    ``ignore_empty=True`` give NaN for an empty true region (skipped by the mean); ``ignore_empty=False`` gives 1
    when the predicted region is empty too and 0 otherwise, the BraTS challenge convention.
    ``HausdorffDistanceMetric`` gives NaN when either region is empty (BraTS uses 0 for both empty and 373.13
    when only one is).

    Args:
        metric: a MONAI ``CumulativeIterationMetric`` scoring ``(B, C, ...)`` binary channels; it must include
            the first channel (``include_background=True``), which is a region here.
        regions: region names of :data:`BRATS_REGIONS` or a mapping name → labels; default WT, TC, ET.
        reduction: MONAI ``MetricReduction`` over the ``(N, R)`` buffer: ``"mean"`` (default) averages over
            regions then cases; ``"mean_batch"`` gives one value per region.
        get_not_nans: ``aggregate()`` also returns the count of non-NaN values.
    """

    def __init__(
        self,
        metric: CumulativeIterationMetric,
        regions: Sequence[str] | Mapping[str, Sequence[int]] = tuple(BRATS_REGIONS),
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(metric, CumulativeIterationMetric):
            raise TypeError(f"metric must be a MONAI CumulativeIterationMetric, got {type(metric).__name__}.")
        if not getattr(metric, "include_background", True):
            raise ValueError("the region metric must have include_background=True: channel 0 is a region, not background.")
        self.metric = metric
        self.regions = resolve_regions(regions)
        self.region_names = list(self.regions)
        self.reduction = reduction
        self.get_not_nans = get_not_nans

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """``(B, R)`` scores of a batch of label maps or one-hot ``(B, C, *spatial)`` predictions and labels."""
        if y_pred.shape[0] != y.shape[0] or y_pred.shape[2:] != y.shape[2:]:
            raise ValueError(f"y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)} differ in batch or spatial size.")
        return self.metric._compute_tensor(labels_to_regions(y_pred, self.regions), labels_to_regions(y, self.regions))
