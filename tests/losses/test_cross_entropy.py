"""Class-weighted BCE (seed 002), categorical CE (seed 001) and the inverse-frequency class weights, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.losses import DiceCELoss
from parameterized import parameterized

from losses import CrossEntropyLoss, WeightedBCELoss, class_frequency_weights, count_classes
from tests.masks import DISJOINT, EMPTY, GT, HALF, INSIDE, LOGIT, PERFECT, logits

CE_RIGHT = math.log1p(math.exp(-LOGIT))
W0, W1 = 0.75, 3.0  # background, foreground weights


@parameterized.expand(
    [
        # (name, prediction, truth, wrong background pixels, wrong foreground pixels, right bg, right fg)
        ("perfect", PERFECT, GT, 0, 0, 8, 8),
        ("disjoint", DISJOINT, GT, 8, 8, 0, 0),
        ("half_overlap", HALF, GT, 4, 4, 4, 4),
        ("inside", INSIDE, GT, 0, 4, 8, 4),
        ("both_empty", EMPTY, EMPTY, 0, 0, 16, 0),
        ("empty_truth", HALF, EMPTY, 8, 0, 8, 0),
    ]
)
def test_weighted_bce_by_hand(_, pred, gt, wrong_bg, wrong_fg, right_bg, right_fg):
    expected = (W0 * (wrong_bg * LOGIT + right_bg * CE_RIGHT) + W1 * (wrong_fg * LOGIT + right_fg * CE_RIGHT)) / 16
    loss = WeightedBCELoss(class_weights=(W0, W1))(logits(pred), gt)
    assert loss.item() == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_unit_weights_are_plain_bce():
    x, y = torch.randn(2, 1, 5, 5), (torch.rand(2, 1, 5, 5) > 0.5).float()
    assert WeightedBCELoss()(x, y).item() == pytest.approx(torch.nn.BCEWithLogitsLoss()(x, y).item(), rel=1e-6)
    assert WeightedBCELoss(reduction="none")(x, y).shape == x.shape


@parameterized.expand([("three", (1.0, 2.0, 3.0)), ("zero", (0.0, 1.0)), ("negative", (1.0, -1.0))])
def test_weighted_bce_rejects_bad_weights(_, weights):
    with pytest.raises(ValueError, match="class_weights"):
        WeightedBCELoss(class_weights=weights)


def test_categorical_ce_by_hand():
    # 3 classes, 2 pixels: logits (0, 0, 0) → p = 1/3 for class 2; logits (ln 2, 0, 0) → p = 2/4 for class 0
    x = torch.tensor([[[[0.0, math.log(2.0)]], [[0.0, 0.0]], [[0.0, 0.0]]]])  # (1, 3, 1, 2)
    label = torch.tensor([[[[2, 0]]]])  # (1, 1, 1, 2) class indices, MONAI layout
    expected = (math.log(3.0) + math.log(2.0)) / 2
    assert CrossEntropyLoss()(x, label).item() == pytest.approx(expected, rel=1e-6)
    assert CrossEntropyLoss()(x, label.float()).item() == pytest.approx(expected, rel=1e-6)  # float labels
    onehot = torch.nn.functional.one_hot(label[:, 0], 3).permute(0, 3, 1, 2).float()
    assert CrossEntropyLoss()(x, onehot).item() == pytest.approx(expected, rel=1e-6)
    # class weights: PyTorch's weighted mean, divided by the weights of the target pixels
    weighted = CrossEntropyLoss(weight=[1.0, 1.0, 4.0])(x, label)
    assert weighted.item() == pytest.approx((4 * math.log(3.0) + math.log(2.0)) / 5, rel=1e-6)


def test_categorical_ce_equals_monai_dice_ce_without_dice():
    x, label = torch.randn(2, 4, 6, 5), torch.randint(0, 4, (2, 1, 6, 5))
    monai = DiceCELoss(to_onehot_y=True, softmax=True, lambda_dice=0.0)(x, label)
    assert CrossEntropyLoss()(x, label).item() == pytest.approx(monai.item(), rel=1e-6)


def test_categorical_ce_needs_two_classes():
    with pytest.raises(ValueError, match="C >= 2"):
        CrossEntropyLoss()(torch.zeros(1, 1, 4, 4), EMPTY)


def test_class_weights_by_hand():
    # 2 masks of 16 pixels with 8 and 4 foreground pixels: N = 32, N_1 = 12, N_0 = 20; w_c = N / (2 N_c)
    data = [{"label": GT[0]}, {"label": INSIDE[0]}]
    assert count_classes(data, 2).tolist() == [20, 12]
    weights = class_frequency_weights(data, num_classes=2)
    assert weights.tolist() == pytest.approx([32 / 40, 32 / 24])
    assert float((weights * torch.tensor([20.0, 12.0])).sum()) == pytest.approx(32.0)  # sum w_c N_c = N


def test_class_weights_accept_datasets_metatensors_arrays_and_lists():
    meta = MetaTensor(GT[0])
    assert class_frequency_weights([{"label": meta}]).tolist() == pytest.approx([1.0, 1.0])
    assert class_frequency_weights(np.asarray(GT)).tolist() == pytest.approx([1.0, 1.0])
    assert class_frequency_weights([[{"label": GT[0]}, {"label": INSIDE[0]}]]).tolist() == pytest.approx([0.8, 32 / 24])
    multiclass = torch.tensor([0, 0, 0, 1, 1, 2])
    assert class_frequency_weights([{"seg": multiclass}], num_classes=3, label_key="seg").tolist() == pytest.approx(
        [6 / 9, 6 / 6, 6 / 3]
    )


@parameterized.expand(
    [
        ("absent_class", [{"label": EMPTY[0]}], 2, "never occur"),
        ("value_too_large", [{"label": torch.tensor([0, 3])}], 2, r"\[0, 2\)"),
        ("not_integer", [{"label": torch.tensor([0.0, 0.5])}], 2, "class indices"),
        ("no_pixels", [], 2, "no label pixels"),
    ]
)
def test_class_weights_errors(_, data, num_classes, message):
    with pytest.raises(ValueError, match=message):
        class_frequency_weights(data, num_classes=num_classes)
