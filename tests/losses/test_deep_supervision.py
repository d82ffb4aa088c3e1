"""Deep supervision wrapper: weighted sum over outputs given as a list, a tuple or heads stacked on dim 1."""

from __future__ import annotations

import pytest
import torch
from monai.losses import DiceCELoss, DiceLoss
from parameterized import parameterized

from losses import DeepSupervisionLoss, FocalTverskyLoss, nnunet_weights
from tests.masks import DISJOINT, GT, HALF, PERFECT, logits

DICE = {"perfect": 0.0, "half": 0.5, "disjoint": 1.0}  # Dice loss of the hand-made masks (up to 1e-5)
HEADS = [logits(PERFECT), logits(HALF), logits(DISJOINT)]


@parameterized.expand(
    [
        ("same", {"weight_mode": "same"}, 0.0 + 0.5 + 1.0),
        ("exp", {"weight_mode": "exp"}, 1.0 * 0.0 + 0.5 * 0.5 + 0.25 * 1.0),
        ("two", {"weight_mode": "two"}, 1.0 * 0.0 + 0.5 * 0.5 + 0.5 * 1.0),
        ("explicit", {"weights": [0.2, 0.3, 0.5]}, 0.2 * 0.0 + 0.3 * 0.5 + 0.5 * 1.0),
        # final output last: raw 0 (coarsest excluded), 0.5, 1 -> normalised 0, 1/3, 2/3
        ("nnunet", {"weight_mode": "nnunet"}, 0.0 * 0.0 + 0.5 / 3 + 2.0 / 3 * 1.0),
    ]
)
def test_weighted_sum_by_hand(_, kwargs, expected):
    loss = DeepSupervisionLoss(DiceLoss(sigmoid=True), **kwargs)
    for outputs in (HEADS, tuple(HEADS), torch.stack(HEADS, dim=1)):  # list, tuple, (B, L, C, H, W)
        assert loss(outputs, GT).item() == pytest.approx(expected, abs=1e-4)


@parameterized.expand([(1, [1.0]), (2, [0.0, 1.0]), (3, [0.0, 1 / 3, 2 / 3]), (4, [0.0, 1 / 7, 2 / 7, 4 / 7])])
def test_nnunet_weights_halve_exclude_the_coarsest_and_sum_to_one(levels, expected):
    assert nnunet_weights(levels) == pytest.approx(expected)
    assert DeepSupervisionLoss(DiceLoss(sigmoid=True), weight_mode="nnunet").get_weights(levels) == pytest.approx(expected)


def test_nnunet_weights_need_an_output():
    with pytest.raises(ValueError, match="at least one output"):
        nnunet_weights(0)


def test_single_output_passes_through():
    loss = DeepSupervisionLoss(DiceLoss(sigmoid=True))
    assert loss(logits(HALF), GT).item() == pytest.approx(DICE["half"], abs=1e-4)


def test_smaller_outputs_get_a_nearest_resized_target():
    small = logits(GT)[..., ::2, ::2]  # (1, 1, 2, 2): the target resized by nearest neighbour matches it
    loss = DeepSupervisionLoss(DiceLoss(sigmoid=True), weights=[1.0, 1.0])
    assert loss([logits(GT), small], GT).item() == pytest.approx(0.0, abs=1e-4)


def test_weights_must_match_the_outputs():
    with pytest.raises(ValueError, match="2 deep-supervision weights given for 3 outputs"):
        DeepSupervisionLoss(DiceLoss(sigmoid=True), weights=[1.0, 0.5])(HEADS, GT)
    with pytest.raises(ValueError, match="weight_mode"):
        DeepSupervisionLoss(DiceLoss(sigmoid=True), weight_mode="linear")


def test_any_loss_and_gradients_reach_every_head():
    heads = torch.stack(HEADS, dim=1).clone().mul(0.1).requires_grad_(True)
    for inner in (DiceCELoss(sigmoid=True, lambda_ce=0.5), FocalTverskyLoss(sigmoid=True)):
        heads.grad = None
        DeepSupervisionLoss(inner)(heads, GT).backward()
        assert all(heads.grad[:, level].abs().sum() > 0 for level in range(3))
