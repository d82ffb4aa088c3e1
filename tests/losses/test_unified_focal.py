"""Asymmetric Unified Focal loss (Yeung et al. 2022): hand-computed values, the sigmoid / softmax / probability
layouts agree, and the parts match MONAI's binary implementation (focal part x2: MONAI averages the classes)."""

from __future__ import annotations

import math

import pytest
import torch
from monai.losses.unified_focal_loss import AsymmetricFocalLoss, AsymmetricFocalTverskyLoss, AsymmetricUnifiedFocalLoss
from parameterized import parameterized

from losses import UnifiedFocalLoss
from tests.masks import DISJOINT, EMPTY, GT, HALF, LOGIT, PERFECT, logits

D, G, W, E = 0.6, 0.5, 0.5, 1e-7  # delta, gamma, weight (lambda), epsilon: the paper's defaults


def ufl_two_pixels() -> float:
    """By hand: two pixels, truth (foreground, background), foreground probabilities (0.8, 0.4)."""
    focal = (D * -math.log(0.8) + (1 - D) * (1 - 0.6) ** G * -math.log(0.6)) / 2
    mti_background = (0.6 + E) / (0.6 + D * 0.4 + (1 - D) * 0.2 + E)  # y0 = (0, 1), p0 = (0.2, 0.6)
    mti_foreground = (0.8 + E) / (0.8 + D * 0.2 + (1 - D) * 0.4 + E)  # y1 = (1, 0), p1 = (0.8, 0.4)
    tversky = ((1 - mti_background) + (1 - mti_foreground) ** (1 - G)) / 2
    return W * focal + (1 - W) * tversky


def test_two_pixels_by_hand_in_every_layout():
    expected = ufl_two_pixels()
    probs = torch.tensor([[[[0.2, 0.6]], [[0.8, 0.4]]]])  # (1, 2, 1, 2) softmax layout
    onehot = torch.tensor([[[[0.0, 1.0]], [[1.0, 0.0]]]])
    assert UnifiedFocalLoss()(probs, onehot).item() == pytest.approx(expected, rel=1e-5)
    assert UnifiedFocalLoss(to_onehot_y=True)(probs, torch.tensor([[[[1, 0]]]])).item() == pytest.approx(expected, rel=1e-5)
    assert UnifiedFocalLoss(softmax=True)(probs.log(), onehot).item() == pytest.approx(expected, rel=1e-5)
    fg_logits = torch.logit(torch.tensor([[[[0.8, 0.4]]]]))
    fg_truth = torch.tensor([[[[1.0, 0.0]]]])
    assert UnifiedFocalLoss(sigmoid=True)(fg_logits, fg_truth).item() == pytest.approx(expected, rel=1e-5)


def half_overlap() -> float:
    # focal: column 0 missed (delta * LOGIT), column 2 false (1 - delta) * LOGIT, 4 pixels each, over 16 pixels
    focal = 4 * (D * LOGIT + (1 - D) * LOGIT) / 16
    tversky = ((1 - 0.5) + (1 - 0.5) ** (1 - G)) / 2  # both classes: TP 4, FN 4, FP 4 → mTI = 4 / 8
    return W * focal + (1 - W) * tversky


def empty_truth_tiny_prediction(logit: float) -> float:
    """Empty truth, foreground probability p = sigmoid(logit) everywhere: only the foreground Tversky term counts."""
    mass = 16 * (1 / (1 + math.exp(-logit)))
    one_minus_mti = (1 - D) * mass / ((1 - D) * mass + E)
    return (1 - W) * one_minus_mti ** (1 - G) / 2


@parameterized.expand(
    [
        ("perfect", PERFECT, GT, 0.0, 1e-4),
        ("disjoint", DISJOINT, GT, W * (8 * D * LOGIT + 8 * (1 - D) * LOGIT) / 16 + (1 - W) * 1.0, 1e-4),
        ("half_overlap", HALF, GT, half_overlap(), 1e-4),
        # empty truth: background class TP 8, FN 8 (columns 1-2) → mTI_0 = 8 / (8 + 0.6 * 8); foreground mTI ~0
        ("empty_truth", HALF, EMPTY, W * 8 * (1 - D) * LOGIT / 16 + (1 - W) * ((1 - 8 / (8 + D * 8)) + 1) / 2, 1e-4),
        # empty prediction: background TP 8, FP 8 → mTI_0 = 8 / (8 + 0.4 * 8); foreground mTI ~0
        ("empty_prediction", EMPTY, GT, W * 8 * D * LOGIT / 16 + (1 - W) * ((1 - 8 / (8 + (1 - D) * 8)) + 1) / 2, 1e-4),
        # both empty: tends to 0, but steeply (square root of FP / eps): at logit -20 it is still ~0.085
        ("both_empty_logit_20", EMPTY, EMPTY, empty_truth_tiny_prediction(-LOGIT), 1e-4),
    ]
)
def test_hand_made_masks(_, pred, gt, expected, tol):
    assert UnifiedFocalLoss(sigmoid=True)(logits(pred), gt).item() == pytest.approx(expected, abs=tol)


def test_both_empty_tends_to_zero():
    assert UnifiedFocalLoss(sigmoid=True)(torch.full((1, 1, 4, 4), -40.0), EMPTY).item() < 1e-4


def random_case(channels: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = 3 * torch.tanh(torch.randn(2, channels, 6, 7, generator=g))  # |logit| < 3: MONAI's clipping inactive
    y = (torch.rand(2, channels, 6, 7, generator=g) > 0.6).float()
    return x, y


def test_parts_match_monai_binary_implementation():
    x, y = random_case()
    p = torch.sigmoid(x)
    probs, onehot = torch.cat([1 - p, p], dim=1), torch.cat([1 - y, y], dim=1)
    focal = UnifiedFocalLoss(sigmoid=True, weight=1.0)(x, y)
    tversky = UnifiedFocalLoss(sigmoid=True, weight=0.0)(x, y)
    assert focal.item() == pytest.approx(2 * AsymmetricFocalLoss(delta=D, gamma=G)(probs, onehot).item(), rel=1e-5)
    assert tversky.item() == pytest.approx(AsymmetricFocalTverskyLoss(delta=D, gamma=G)(probs, onehot).item(), rel=1e-5)
    monai_total = AsymmetricUnifiedFocalLoss(weight=W, delta=D, gamma=G)(p, y)  # MONAI takes probabilities
    assert monai_total.item() == pytest.approx(W * focal.item() / 2 + (1 - W) * tversky.item(), rel=1e-5)


def test_sigmoid_channels_are_independent_binary_problems():
    x, y = random_case(channels=2)
    per_channel = [UnifiedFocalLoss(sigmoid=True)(x[:, c : c + 1], y[:, c : c + 1]) for c in range(2)]
    assert UnifiedFocalLoss(sigmoid=True)(x, y).item() == pytest.approx(sum(per_channel).item() / 2, rel=1e-6)
    assert UnifiedFocalLoss(sigmoid=True, reduction="none")(x, y).shape == (2, 2)


def test_softmax_two_classes_equals_sigmoid():
    x, y = random_case()
    two = torch.cat([-x / 2, x / 2], dim=1)  # softmax(-x/2, x/2) = (1 - sigmoid(x), sigmoid(x))
    assert UnifiedFocalLoss(softmax=True, to_onehot_y=True)(two, y.long()).item() == pytest.approx(
        UnifiedFocalLoss(sigmoid=True)(x, y).item(), rel=1e-5
    )


def test_multiclass_background_suppressed_every_foreground_class_enhanced():
    g = torch.Generator().manual_seed(3)
    x, label = torch.randn(2, 4, 5, 5, generator=g), torch.randint(0, 4, (2, 1, 5, 5), generator=g)
    loss = UnifiedFocalLoss(softmax=True, to_onehot_y=True, reduction="none")(x, label)
    p, y = torch.softmax(x, 1), torch.nn.functional.one_hot(label[:, 0], 4).permute(0, 3, 1, 2).float()
    ce = -y * torch.log_softmax(x, 1)
    focal = ((1 - D) * (1 - p[:, 0]) ** G * ce[:, 0] + D * ce[:, 1:].sum(1)).flatten(1).mean(1)
    tp, fn, fp = (y * p).sum((2, 3)), (y * (1 - p)).sum((2, 3)), ((1 - y) * p).sum((2, 3))
    mti = (tp + E) / (tp + D * fn + (1 - D) * fp + E)
    tversky = torch.cat([1 - mti[:, :1], (1 - mti[:, 1:]) ** (1 - G)], 1).mean(1)
    assert torch.allclose(loss[:, 0], W * focal + (1 - W) * tversky, rtol=1e-5)


def test_finite_gradient_at_a_perfect_prediction():
    x = logits(PERFECT).requires_grad_(True)
    UnifiedFocalLoss(sigmoid=True)(x, GT).backward()
    assert torch.isfinite(x.grad).all()


@parameterized.expand(
    [
        ("both_activations", {"sigmoid": True, "softmax": True}),
        ("onehot_with_sigmoid", {"sigmoid": True, "to_onehot_y": True}),
        ("weight", {"weight": 1.5}),
        ("delta", {"delta": -0.1}),
        ("gamma", {"gamma": 2.0}),
    ]
)
def test_invalid_arguments(_, kwargs):
    with pytest.raises(ValueError):
        UnifiedFocalLoss(**kwargs)


def test_single_channel_needs_sigmoid():
    with pytest.raises(ValueError, match="sigmoid"):
        UnifiedFocalLoss(softmax=True)(torch.zeros(1, 1, 4, 4), EMPTY)
