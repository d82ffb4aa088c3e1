"""MONAI's and PyTorch's losses as bundles/common/configs/losses.yaml declares them, on hand-made masks with values
computed by hand: seed 000's Dice, Dice squared and BCE, UNet++'s hybrid BCE + Dice (seed 003)."""

from __future__ import annotations

import math

import pytest
import torch
from monai.losses import DiceCELoss, DiceLoss, TverskyLoss
from parameterized import parameterized

from tests.masks import DISJOINT, EMPTY, GT, HALF, INSIDE, LOGIT, P_OFF, PERFECT, logits

S = 1e-5  # MONAI's smooth_nr = smooth_dr
CE_RIGHT = math.log1p(math.exp(-LOGIT))  # cross-entropy of a right pixel at |logit| = LOGIT

# (name, prediction, ground truth, Dice loss by hand: 1 - (2 TP + s) / (|P| + |G| + s), fraction of wrong pixels)
CASES = [
    ("perfect", PERFECT, GT, 1 - (16 + S) / (16 + S), 0 / 16),
    ("disjoint", DISJOINT, GT, 1 - S / (16 + S), 16 / 16),
    ("half_overlap", HALF, GT, 1 - (8 + S) / (16 + S), 8 / 16),
    ("inside", INSIDE, GT, 1 - (8 + S) / (12 + S), 4 / 16),
    ("both_empty", EMPTY, EMPTY, 1 - S / (16 * P_OFF + S), 0 / 16),  # 3e-3: 16 probabilities of 2e-9 vs s
    ("empty_truth", HALF, EMPTY, 1 - S / (8 + S), 8 / 16),
    ("empty_prediction", EMPTY, GT, 1 - S / (8 + S), 8 / 16),
]


@parameterized.expand(CASES)
def test_dice_loss_by_hand(_, pred, gt, dice_loss, wrong):
    loss = DiceLoss(sigmoid=True)(logits(pred), gt)
    assert loss.item() == pytest.approx(dice_loss, abs=1e-6)


@parameterized.expand(CASES)
def test_dice_squared_equals_dice_on_hard_masks(name, pred, gt, dice_loss, wrong):
    # p^2 = p for p in {0, 1}: the squared denominator differs on soft predictions (next test), and when the truth is
    # empty the squared background probabilities (4e-18) no longer count against the smoothing
    expected = 1 - S / (16 * P_OFF**2 + S) if name == "both_empty" else dice_loss
    assert DiceLoss(sigmoid=True, squared_pred=True)(logits(pred), gt).item() == pytest.approx(expected, abs=1e-6)


def test_dice_and_dice_squared_differ_on_a_soft_prediction():
    soft = torch.zeros(1, 1, 4, 4)  # sigmoid(0) = 0.5 everywhere: TP = 4, sum p = 8, sum p^2 = 4, |G| = 8
    assert DiceLoss(sigmoid=True)(soft, GT).item() == pytest.approx(1 - (8 + S) / (8 + 8 + S), abs=1e-6)
    assert DiceLoss(sigmoid=True, squared_pred=True)(soft, GT).item() == pytest.approx(1 - (8 + S) / (4 + 8 + S), abs=1e-6)


def test_dice_loss_is_per_image_then_mean_and_batch_pools():
    pred = torch.cat([logits(PERFECT), logits(EMPTY)])  # image 2: empty truth, empty prediction → ~0
    gt = torch.cat([GT, EMPTY])
    assert DiceLoss(sigmoid=True)(pred, gt).item() == pytest.approx((0 + 1 - S / (16 * P_OFF + S)) / 2, abs=1e-6)
    pred = torch.cat([logits(PERFECT), logits(INSIDE)])  # image 2: 4 false positives on an empty truth → ~1
    assert DiceLoss(sigmoid=True)(pred, torch.cat([GT, EMPTY])).item() == pytest.approx(0.5, abs=1e-5)
    # batch=True: one Dice over both images, TP 8, |P| 12, |G| 8
    assert DiceLoss(sigmoid=True, batch=True)(pred, torch.cat([GT, EMPTY])).item() == pytest.approx(1 - 16 / 20, abs=1e-5)


@parameterized.expand(CASES)
def test_bce_by_hand(_, pred, gt, dice_loss, wrong):
    expected = wrong * LOGIT + (1 - wrong) * CE_RIGHT
    assert torch.nn.BCEWithLogitsLoss()(logits(pred), gt).item() == pytest.approx(expected, rel=1e-6, abs=1e-7)


@parameterized.expand(CASES)
def test_unetpp_hybrid_bce_dice_by_hand(_, pred, gt, dice_loss, wrong):
    # seed 003: L = 1/2 BCE - Dice per image (here + 1, the Dice loss: the same gradient)
    hybrid = DiceCELoss(sigmoid=True, lambda_dice=1.0, lambda_ce=0.5)(logits(pred), gt)
    assert hybrid.item() == pytest.approx(dice_loss + 0.5 * (wrong * LOGIT + (1 - wrong) * CE_RIGHT), abs=1e-5)


def test_monai_tversky_names_alpha_the_false_positives():
    # the reverse of Abraham & Khan's naming used by losses.FocalTverskyLoss (see test_focal_tversky.py)
    fp_only = TverskyLoss(sigmoid=True, alpha=1.0, beta=0.0)
    assert fp_only(logits(INSIDE), GT).item() == pytest.approx(0.0, abs=1e-6)  # 4 FN, no FP
    assert fp_only(logits(columns_0_to_2()), GT).item() == pytest.approx(1 - (8 + S) / (8 + 4 + S), abs=1e-6)


def columns_0_to_2() -> torch.Tensor:
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :3] = 1.0  # TP 8, FP 4
    return mask
