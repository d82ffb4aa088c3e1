"""Pixel accuracy and pixel error (ISBI 2012) by hand, binary and multi-class, against MONAI's binary accuracy."""

from __future__ import annotations

import pytest
import torch
from monai.metrics import ConfusionMatrixMetric
from parameterized import parameterized

from metrics import PixelAccuracyMetric, PixelErrorMetric
from tests.masks import DISJOINT, EMPTY, GT, HALF, INSIDE, PERFECT


@parameterized.expand(
    [
        ("perfect", PERFECT, GT, 16 / 16),
        ("disjoint", DISJOINT, GT, 0 / 16),
        ("half_overlap", HALF, GT, 8 / 16),
        ("inside", INSIDE, GT, 12 / 16),
        ("both_empty", EMPTY, EMPTY, 16 / 16),
        ("empty_truth", HALF, EMPTY, 8 / 16),
        ("empty_prediction", EMPTY, GT, 8 / 16),
    ]
)
def test_by_hand(_, pred, gt, accuracy):
    assert PixelAccuracyMetric()(pred, gt).item() == pytest.approx(accuracy)
    assert PixelErrorMetric()(pred, gt).item() == pytest.approx(1 - accuracy)


def test_mean_over_images_and_binary_agrees_with_monai_accuracy():
    g = torch.Generator().manual_seed(0)
    pred = (torch.rand(3, 1, 7, 9, generator=g) > 0.5).float()
    gt = (torch.rand(3, 1, 7, 9, generator=g) > 0.4).float()
    ours = PixelAccuracyMetric()
    ours(pred, gt)
    monai = ConfusionMatrixMetric(metric_name="accuracy", compute_sample=True)
    monai(pred, gt)
    assert ours.aggregate().item() == pytest.approx(monai.aggregate()[0].item())
    error = PixelErrorMetric()
    error(pred[:2], gt[:2])  # two iterations accumulate
    error(pred[2:], gt[2:])
    assert error.aggregate().item() == pytest.approx(1 - ours.aggregate().item())
    assert ours.get_buffer().shape == (3, 1)


def test_multiclass_one_hot_is_the_fraction_of_right_classes():
    # classes: truth (0 on columns 2-3, 1 on 0-1), prediction HALF (1 on columns 1-2): right on columns 1 and 3
    truth = torch.cat([1 - GT, GT, EMPTY], dim=1)
    pred = torch.cat([1 - HALF, HALF, EMPTY], dim=1)
    assert PixelAccuracyMetric()(pred, truth).item() == pytest.approx(8 / 16)
    # MONAI's per-channel accuracy averages the channels instead: (8/16 + 8/16 + 16/16) / 3
    monai = ConfusionMatrixMetric(metric_name="accuracy", compute_sample=True)
    monai(pred, truth)
    assert monai.aggregate()[0].item() == pytest.approx((0.5 + 0.5 + 1.0) / 3)


def test_warns_on_non_binary_and_rejects_mismatched_inputs():
    with pytest.warns(UserWarning, match="binarized"):  # MONAI's check warns, as for its own metrics
        PixelAccuracyMetric()(torch.full((1, 1, 4, 4), 0.5), GT)
    with pytest.raises(ValueError, match="same shape"):
        PixelAccuracyMetric()(GT, torch.cat([GT, GT], dim=1))
