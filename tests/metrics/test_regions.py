"""BraTS regions (WT = {1,2,3}, TC = {1,3}, ET = {3} of labels 0, 1, 2, 4 mapped to 0..3) and metrics on them."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from monai.metrics import DiceMetric, HausdorffDistanceMetric, MeanIoU
from monai.transforms import ConvertToMultiChannelBasedOnBratsClasses
from parameterized import parameterized

from metrics import BRATS_REGIONS, RegionMetric, labels_to_regions


def label_map(*columns: int) -> torch.Tensor:
    """A (1, 1, 4, 4) label map whose column c holds label columns[c]."""
    return torch.tensor(columns, dtype=torch.float32).expand(4, 4).reshape(1, 1, 4, 4).clone()


TRUTH = label_map(1, 3, 2, 0)  # necrosis, enhancing, oedema, background
PRED = label_map(1, 1, 2, 2)  # enhancing taken for necrosis, oedema too large


def test_regions_by_hand():
    regions = labels_to_regions(torch.tensor([0, 1, 2, 3]).reshape(1, 1, 4))
    assert regions[0].tolist() == [[0, 1, 1, 1], [0, 1, 0, 1], [0, 0, 0, 1]]  # WT, TC, ET
    assert BRATS_REGIONS == {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}


def test_regions_match_monai_brats_transform_on_original_labels():
    labels = torch.randint(0, 4, (1, 6, 5, 3))
    original = torch.where(labels == 3, 4, labels)  # back to BraTS labels 0, 1, 2, 4
    monai_tc, monai_wt, monai_et = ConvertToMultiChannelBasedOnBratsClasses()(original[0])  # order TC, WT, ET
    ours = labels_to_regions(labels[None])[0]
    assert torch.equal(ours[0].bool(), torch.as_tensor(monai_wt).bool())
    assert torch.equal(ours[1].bool(), torch.as_tensor(monai_tc).bool())
    assert torch.equal(ours[2].bool(), torch.as_tensor(monai_et).bool())


def test_one_hot_input_is_reduced_by_argmax():
    onehot = torch.nn.functional.one_hot(TRUTH[:, 0].long(), 4).permute(0, 3, 1, 2).float()
    assert torch.equal(labels_to_regions(onehot), labels_to_regions(TRUTH))


def test_region_dice_by_hand():
    metric = RegionMetric(DiceMetric(include_background=True), reduction="mean_batch")
    values = metric(PRED, TRUTH)
    # WT: truth columns 0-2 (12 px), prediction all 16 px → 2*12 / (12 + 16); TC: columns 0-1 both → 1;
    # ET: truth column 1, predicted nowhere → 0
    assert values.flatten().tolist() == pytest.approx([24 / 28, 1.0, 0.0])
    assert metric.aggregate().flatten().tolist() == pytest.approx([24 / 28, 1.0, 0.0])
    overall = RegionMetric(DiceMetric(include_background=True))
    overall(PRED, TRUTH)
    assert overall.aggregate().item() == pytest.approx((24 / 28 + 1.0 + 0.0) / 3)


def test_one_region_and_custom_regions():
    et = RegionMetric(MeanIoU(include_background=True), regions=["ET"])
    assert et(PRED, TRUTH).flatten().tolist() == [0.0]
    oedema = RegionMetric(MeanIoU(include_background=True), regions={"ED": [2]})
    assert oedema(PRED, TRUTH).item() == pytest.approx(4 / 8)  # column 2 right, column 3 false


@parameterized.expand([("ignore_empty", True, math.nan), ("brats_convention", False, 1.0)])
def test_empty_enhancing_tumour(_, ignore_empty, expected):
    # a case without enhancing tumour, none predicted: ET is NaN (skipped) or 1 (BraTS)
    truth, pred = label_map(1, 2, 2, 0), label_map(1, 2, 0, 0)
    et_dice = lambda: RegionMetric(DiceMetric(include_background=True, ignore_empty=ignore_empty), regions=["ET"])  # noqa: E731
    value = et_dice()(pred, truth)
    assert (math.isnan(expected) and math.isnan(value.item())) or value.item() == expected
    # ... and predicting enhancing tumour where there is none scores NaN or 0
    value = et_dice()(label_map(3, 2, 0, 0), truth)
    assert (math.isnan(expected) and math.isnan(value.item())) or value.item() == 0.0


def test_hausdorff_on_regions_is_monai_on_the_region_channels():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ET is empty in the prediction: MONAI warns and gives NaN
        ours = RegionMetric(HausdorffDistanceMetric(include_background=True, percentile=95))(PRED, TRUTH)
        hd95 = HausdorffDistanceMetric(include_background=True, percentile=95)
        direct = hd95(labels_to_regions(PRED), labels_to_regions(TRUTH))
    assert torch.allclose(ours, direct, equal_nan=True)
    assert ours[0, 1].item() == 0.0 and math.isnan(ours[0, 2].item())


@parameterized.expand(
    [
        ("background_excluded", lambda: RegionMetric(DiceMetric(include_background=False)), ValueError),
        ("unknown_region", lambda: RegionMetric(DiceMetric(), regions=["NCR"]), ValueError),
        ("empty_region", lambda: RegionMetric(DiceMetric(), regions={"X": []}), ValueError),
        ("not_a_metric", lambda: RegionMetric(lambda a, b: a), TypeError),
    ]
)
def test_invalid_arguments(_, make, error):
    with pytest.raises(error):
        make()
