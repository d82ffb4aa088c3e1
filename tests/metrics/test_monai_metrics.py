"""MONAI's metrics as the bundles use them (Dice = seed 004's Aver_dice, IoU / mean IoU, precision, recall,
specificity, accuracy, 95 % Hausdorff) on hand-made masks with values counted by hand, and how empty ground truths
and empty predictions are scored per image and per volume (``ignore_empty``)."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from monai.metrics import ConfusionMatrixMetric, DiceMetric, HausdorffDistanceMetric, MeanIoU
from monai.metrics.confusion_matrix import compute_confusion_matrix_metric
from parameterized import parameterized

from metrics import PixelAccuracyMetric, RandErrorMetric
from tests.masks import DISJOINT, EMPTY, GT, HALF, INSIDE, PERFECT

NAN = float("nan")
# (name, prediction, truth, TP, FP, FN, TN, HD95 by hand)
# HD95: every pixel of a 2-pixel-wide strip is on its edge; distances between the columns' edges, 95th percentile
CASES = [
    ("perfect", PERFECT, GT, 8, 0, 0, 8, 0.0),
    ("disjoint", DISJOINT, GT, 0, 8, 8, 0, 2.0),  # column 1 → 2 is 1, column 0 → 2 is 2; 95th percentile of 4 x {1, 2}
    ("half_overlap", HALF, GT, 4, 4, 4, 4, 1.0),
    ("inside", INSIDE, GT, 4, 0, 4, 8, 1.0),
]


def score(metric, pred: torch.Tensor, gt: torch.Tensor) -> float:
    """The metric of one image (the first of the batch)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MONAI warns about empty masks in HD95
        value = metric(pred, gt)
    if isinstance(metric, ConfusionMatrixMetric):  # its buffer holds TP/FP/TN/FN: score the image
        value = compute_confusion_matrix_metric(metric.metric_name[0], value)
    return float(value.flatten()[0])


@parameterized.expand(CASES)
def test_by_hand(_, pred, gt, tp, fp, fn, tn, hd95):
    assert score(DiceMetric(), pred, gt) == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert score(MeanIoU(), pred, gt) == pytest.approx(tp / (tp + fp + fn))
    conf = {name: ConfusionMatrixMetric(metric_name=name, include_background=True) for name in
            ("precision", "recall", "specificity", "accuracy")}  # fmt: skip
    ratio = lambda n, d: n / d if d else NAN  # noqa: E731
    assert score(conf["precision"], pred, gt) == pytest.approx(ratio(tp, tp + fp), nan_ok=True)
    assert score(conf["recall"], pred, gt) == pytest.approx(ratio(tp, tp + fn), nan_ok=True)
    assert score(conf["specificity"], pred, gt) == pytest.approx(ratio(tn, tn + fp), nan_ok=True)
    assert score(conf["accuracy"], pred, gt) == pytest.approx((tp + tn) / 16)
    assert score(PixelAccuracyMetric(), pred, gt) == pytest.approx((tp + tn) / 16)
    assert score(HausdorffDistanceMetric(percentile=95), pred, gt) == pytest.approx(hd95)


def test_aver_dice_and_mean_iou_are_means_over_images():
    pred, gt = torch.cat([HALF, INSIDE]), torch.cat([GT, GT])
    dice = DiceMetric(reduction="mean")
    dice(pred, gt)
    assert dice.aggregate().item() == pytest.approx((0.5 + 8 / 12) / 2)  # not the pooled 2*8 / (2*8 + 4 + 8)
    iou = MeanIoU(reduction="mean")
    iou(pred, gt)
    assert iou.aggregate().item() == pytest.approx((1 / 3 + 1 / 2) / 2)


def test_mean_iou_over_classes():
    # 3 one-hot classes on 4 x 4: class 0 = columns 2-3, class 1 = column 0-1 (the truth); prediction: HALF for class 1
    truth = torch.cat([1 - GT, GT, EMPTY], dim=1)
    pred = torch.cat([1 - HALF, HALF, EMPTY], dim=1)
    iou = MeanIoU(include_background=True, reduction="mean", ignore_empty=True)
    iou(pred, truth)
    # class 0: TP 4 (col 3), FP 4 (col 0), FN 4 (col 2) → 1/3; class 1: 1/3; class 2: empty truth → NaN, skipped
    assert iou.aggregate().item() == pytest.approx(1 / 3)
    per_class = MeanIoU(include_background=True, reduction="none", ignore_empty=False)(pred, truth)
    assert per_class.flatten().tolist() == pytest.approx([1 / 3, 1 / 3, 1.0])  # class 2: both empty → 1


# ---- empty masks -------------------------------------------------------------------------------------------------
# (case, prediction, truth, expected per image for each metric); NaN = skipped by the mean over images
EMPTY_CASES = [
    ("both_empty", EMPTY, EMPTY),
    ("empty_truth", HALF, EMPTY),  # 8 false positives
    ("empty_prediction", EMPTY, GT),  # 8 false negatives
]
EXPECTED = {
    # MONAI's ignore_empty=True (the default): an empty truth scores NaN, whatever the prediction
    "dice_ignore_empty": (NAN, NAN, 0.0),
    # ignore_empty=False: an empty truth scores 1 if the prediction is empty too, 0 otherwise (BraTS convention)
    "dice_keep_empty": (1.0, 0.0, 0.0),
    "iou_ignore_empty": (NAN, NAN, 0.0),
    "iou_keep_empty": (1.0, 0.0, 0.0),
    "hd95": (NAN, NAN, NAN),  # undefined when either mask is empty
    "precision": (NAN, 0.0, NAN),  # TP / (TP + FP): NaN without predicted pixels
    "recall": (NAN, NAN, 0.0),  # TP / (TP + FN): NaN without true pixels
    "specificity": (1.0, 0.5, 1.0),
    "pixel_accuracy": (1.0, 0.5, 0.5),  # always defined
    # foreground-restricted: the truth's background is ignored; an empty truth has nothing to score
    "rand_ignore_empty": (NAN, NAN, 0.0),  # an empty prediction keeps the one true segment together: error 0
    "rand_keep_empty": (0.0, 1.0, 0.0),
}
METRICS = {
    "dice_ignore_empty": lambda: DiceMetric(ignore_empty=True),
    "dice_keep_empty": lambda: DiceMetric(ignore_empty=False),
    "iou_ignore_empty": lambda: MeanIoU(ignore_empty=True),
    "iou_keep_empty": lambda: MeanIoU(ignore_empty=False),
    "hd95": lambda: HausdorffDistanceMetric(percentile=95),
    "precision": lambda: ConfusionMatrixMetric(metric_name="precision", compute_sample=True),
    "recall": lambda: ConfusionMatrixMetric(metric_name="recall", compute_sample=True),
    "specificity": lambda: ConfusionMatrixMetric(metric_name="specificity", compute_sample=True),
    "pixel_accuracy": lambda: PixelAccuracyMetric(),
    "rand_ignore_empty": lambda: RandErrorMetric(ignore_empty=True),
    "rand_keep_empty": lambda: RandErrorMetric(ignore_empty=False),
}


@parameterized.expand([(f"{m}_{c[0]}", m, i) for m in EXPECTED for i, c in enumerate(EMPTY_CASES)])
def test_empty_masks_per_image(_, metric_name, case):
    _, pred, gt = EMPTY_CASES[case]
    value = score(METRICS[metric_name](), pred, gt)
    expected = EXPECTED[metric_name][case]
    assert (math.isnan(value) and math.isnan(expected)) or value == pytest.approx(expected), value


def volume_and_slices() -> tuple[torch.Tensor, torch.Tensor]:
    """A (1, 1, 4, 4, 3) volume: slice 0 perfect, slice 1 empty truth with 4 false positives, slice 2 both empty."""
    pred = torch.stack([PERFECT, INSIDE, EMPTY], dim=-1)
    gt = torch.stack([GT, EMPTY, EMPTY], dim=-1)
    return pred, gt


def test_per_volume_versus_per_slice():
    pred, gt = volume_and_slices()
    # per volume: one Dice over all voxels, TP 8, FP 4: the false positives of slice 1 count
    assert DiceMetric()(pred, gt).item() == pytest.approx(16 / 20)
    # per slice (the slices as a batch), then the mean over slices
    slices_pred, slices_gt = pred.permute(4, 1, 2, 3, 0)[..., 0], gt.permute(4, 1, 2, 3, 0)[..., 0]
    ignore = DiceMetric(ignore_empty=True)
    assert [float(v) for v in ignore(slices_pred, slices_gt).flatten()][0] == 1.0
    assert ignore.aggregate().item() == pytest.approx(1.0)  # slices 1 and 2 are NaN: the false positives vanish
    keep = DiceMetric(ignore_empty=False)
    keep(slices_pred, slices_gt)
    assert keep.aggregate().item() == pytest.approx((1.0 + 0.0 + 1.0) / 3)  # slice 1 scores 0, slice 2 scores 1


def test_mean_of_only_empty_truths_is_zero():
    # MONAI's reduction: when every value is NaN the mean is 0, not NaN
    dice = DiceMetric(ignore_empty=True)
    dice(torch.cat([EMPTY, HALF]), torch.cat([EMPTY, EMPTY]))
    assert dice.aggregate().item() == 0.0
    dice = DiceMetric(ignore_empty=True, get_not_nans=True)
    dice(torch.cat([EMPTY, HALF]), torch.cat([EMPTY, EMPTY]))
    _, not_nans = dice.aggregate()
    assert not_nans.item() == 0
