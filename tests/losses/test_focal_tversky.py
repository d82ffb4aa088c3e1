"""Focal Tversky loss (Abraham & Khan 2018) on hand-made masks: (1 - TI)^(1/gamma), TI = TP / (TP + a FN + b FP)."""

from __future__ import annotations

import pytest
import torch
from monai.losses import DiceLoss
from parameterized import parameterized

from losses import FocalTverskyLoss
from tests.masks import DISJOINT, EMPTY, GT, HALF, INSIDE, P_OFF, PERFECT, logits

S = 1e-5
A, B, G = 0.7, 0.3, 4.0 / 3.0  # the paper's alpha (false negatives), beta (false positives), gamma


def ftl(tp: float, fn: float, fp: float, alpha: float = A, beta: float = B, gamma: float = G) -> float:
    return (1 - (tp + S) / (tp + alpha * fn + beta * fp + S)) ** (1 / gamma)


def superset() -> torch.Tensor:
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :3] = 1.0  # against GT: TP 8, FP 4, FN 0
    return mask


@parameterized.expand(
    [
        ("perfect", PERFECT, GT, 0.0),
        ("disjoint", DISJOINT, GT, ftl(0, 8, 8)),  # ~1
        ("half_overlap", HALF, GT, ftl(4, 4, 4)),  # TI = 4 / 8: 0.5 ** 0.75
        ("missing_half", INSIDE, GT, ftl(4, 4, 0)),  # false negatives weigh alpha = 0.7
        ("too_much", superset(), GT, ftl(8, 0, 4)),  # false positives weigh beta = 0.3
        # the 16 background probabilities of 2e-9 against the smoothing 1e-5: 1 - TI = 1e-3, to the power 0.75
        ("both_empty", EMPTY, EMPTY, ftl(0, 0, 16 * P_OFF)),
        ("empty_truth", HALF, EMPTY, ftl(0, 0, 8)),  # ~1
        ("empty_prediction", EMPTY, GT, ftl(0, 8, 0)),  # ~1
    ]
)
def test_focal_tversky_by_hand(_, pred, gt, expected):
    loss = FocalTverskyLoss(sigmoid=True)(logits(pred), gt)
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_both_empty_is_zero_when_nothing_is_predicted():
    assert FocalTverskyLoss(sigmoid=True)(torch.full((1, 1, 4, 4), -40.0), EMPTY).item() < 1e-6


def test_half_overlap_value_in_numbers():
    assert FocalTverskyLoss(sigmoid=True)(logits(HALF), GT).item() == pytest.approx(0.5**0.75, abs=1e-6)


def test_alpha_weights_false_negatives_beta_false_positives():
    missing = FocalTverskyLoss(sigmoid=True, alpha=0.9, beta=0.1, gamma=1.0)(logits(INSIDE), GT)  # 4 FN
    extra = FocalTverskyLoss(sigmoid=True, alpha=0.9, beta=0.1, gamma=1.0)(logits(superset()), GT)  # 4 FP
    assert missing.item() == pytest.approx(1 - 4 / (4 + 0.9 * 4), abs=1e-6)
    assert extra.item() == pytest.approx(1 - 8 / (8 + 0.1 * 4), abs=1e-6)
    assert missing > extra


def test_alpha_beta_half_gamma_one_is_the_dice_loss():
    x = torch.randn(2, 1, 5, 6, generator=torch.Generator().manual_seed(0))
    y = (torch.rand(2, 1, 5, 6, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    ours = FocalTverskyLoss(sigmoid=True, alpha=0.5, beta=0.5, gamma=1.0)(x, y)
    assert ours.item() == pytest.approx(DiceLoss(sigmoid=True)(x, y).item(), abs=1e-6)


def test_gamma_is_the_inverse_exponent():
    x, y = torch.zeros(1, 1, 4, 4), GT  # p = 0.5: TP 4, FN 4, FP 4 → TI = 0.5 with alpha + beta = 1
    for gamma in (1.0, 2.0, 4.0 / 3.0):
        loss = FocalTverskyLoss(sigmoid=True, gamma=gamma)(x, y)
        assert loss.item() == pytest.approx(0.5 ** (1 / gamma), abs=1e-6)


def test_multiclass_softmax_per_class_mean():
    # 3 classes, class-index label; a perfect softmax prediction of classes 0 and 1, class 2 absent and not predicted
    label = GT.long()  # classes 0 / 1
    x = torch.cat([logits(1 - GT), logits(GT), torch.full_like(GT, -20.0)], dim=1)
    loss = FocalTverskyLoss(softmax=True, to_onehot_y=True, reduction="none")(x, label)
    assert loss.shape == (1, 3)
    assert torch.allclose(loss, torch.zeros(1, 3), atol=1e-5)
    # predict class 1 on columns 1-2 instead: classes 0 and 1 each get TP 4, FN 4, FP 4
    x = torch.cat([logits(1 - HALF), logits(HALF), torch.full_like(GT, -20.0)], dim=1)
    loss = FocalTverskyLoss(softmax=True, to_onehot_y=True)(x, label)
    assert loss.item() == pytest.approx((ftl(4, 4, 4) * 2 + 0.0) / 3, abs=1e-5)
    without_background = FocalTverskyLoss(softmax=True, to_onehot_y=True, include_background=False)(x, label)
    assert without_background.item() == pytest.approx(ftl(4, 4, 4) / 2, abs=1e-5)


def test_finite_gradient_at_a_perfect_prediction():
    x = logits(PERFECT).requires_grad_(True)
    FocalTverskyLoss(sigmoid=True)(x, GT).backward()
    assert torch.isfinite(x.grad).all()


@parameterized.expand([("alpha", {"alpha": -0.1}), ("beta", {"beta": -1.0}), ("gamma", {"gamma": 0.0})])
def test_invalid_arguments(_, kwargs):
    with pytest.raises(ValueError):
        FocalTverskyLoss(**kwargs)
