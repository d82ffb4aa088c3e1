"""Rand error (ISBI 2012): hand-made splits and merges, and a cross-check against skimage's adapted_rand_error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from parameterized import parameterized
from skimage.measure import label as skimage_label
from skimage.metrics import adapted_rand_error as skimage_rand_error

from metrics import RandErrorMetric, adapted_rand_error, binary_rand_error
from tests.masks import DISJOINT, EMPTY, GT, HALF, INSIDE, PERFECT


def cols(*c: int) -> np.ndarray:
    mask = np.zeros((4, 4), bool)
    mask[:, list(c)] = True
    return mask


def rand_error(n_ij: list[int], a: list[int], b: list[int]) -> float:
    """By hand: 1 - (sum n_ij^2 - N) / ((sum a_i^2 - N) / 2 + (sum b_j^2 - N) / 2)."""
    n = sum(n_ij)
    sq = lambda v: sum(x * x for x in v) - n  # noqa: E731
    return 1 - sq(n_ij) / (0.5 * sq(a) + 0.5 * sq(b))


@parameterized.expand(
    [
        ("perfect", PERFECT, GT, 0.0),
        # columns 0-1 are one true segment (8 px); the prediction (columns 1-2) puts column 1 in its segment and
        # leaves column 0 as predicted background (one segment, label 0): n = (4, 4), a = (8), b = (4, 4)
        ("half_overlap", HALF, GT, rand_error([4, 4], [8], [4, 4])),  # 0.4
        ("inside", INSIDE, GT, rand_error([4, 4], [8], [4, 4])),
        # disjoint: every true pixel is predicted background, one segment, as the truth: no grouping error
        ("disjoint", DISJOINT, GT, 0.0),
        ("empty_prediction", EMPTY, GT, 0.0),
    ]
)
def test_by_hand(_, pred, gt, expected):
    assert RandErrorMetric()(pred, gt).item() == pytest.approx(expected)


def test_hand_values_in_numbers():
    assert rand_error([4, 4], [8], [4, 4]) == pytest.approx(0.4)


def test_merge_and_split_by_hand():
    # merge: two true cells (columns 0 and 2) predicted as one segment (columns 0-2): n = (4, 4), a = (4, 4), b = (8)
    assert binary_rand_error(cols(0, 1, 2), cols(0, 2)) == pytest.approx(rand_error([4, 4], [4, 4], [8]))
    # split: one true cell (columns 0-2, 12 px) predicted as two (columns 0 and 2) plus background (column 1)
    assert binary_rand_error(cols(0, 2), cols(0, 1, 2)) == pytest.approx(rand_error([4, 4, 4], [12], [4, 4, 4]))
    assert rand_error([4, 4, 4], [12], [4, 4, 4]) == pytest.approx(1 - 36 / 84)


def test_connectivity():
    diagonal = np.eye(4, dtype=bool)  # 4 pixels touching only by corners
    # 4-connectivity: the truth is 4 single-pixel segments and so is the prediction: no pairs at all → NaN
    assert math.isnan(binary_rand_error(diagonal, diagonal, connectivity=1))
    assert binary_rand_error(diagonal, diagonal, connectivity=2) == 0.0  # 8-connectivity: one segment each


@parameterized.expand([(f"seed{s}", s) for s in range(6)])
def test_matches_skimage_on_random_label_images(_, seed):
    rng = np.random.default_rng(seed)
    shape = (9, 11) if seed % 2 else (5, 6, 7)
    true_labels, test_labels = rng.integers(0, 5, shape), rng.integers(0, 7, shape)
    assert adapted_rand_error(true_labels, test_labels) == pytest.approx(skimage_rand_error(true_labels, test_labels)[0])
    for alpha in (0.0, 0.3, 1.0):
        expected = skimage_rand_error(true_labels, test_labels, alpha=alpha)[0]
        assert adapted_rand_error(true_labels, test_labels, alpha=alpha) == pytest.approx(expected)


@parameterized.expand([(f"seed{s}_conn{c}", s, c) for s in range(4) for c in (1, 2)])
def test_binary_masks_match_skimage_on_connected_components(_, seed, connectivity):
    rng = np.random.default_rng(100 + seed)
    shape = (24, 20) if seed < 2 else (10, 12, 8)
    gt, pred = rng.random(shape) > 0.45, rng.random(shape) > 0.5
    true_labels, test_labels = skimage_label(gt, connectivity=connectivity), skimage_label(pred, connectivity=connectivity)
    expected = skimage_rand_error(true_labels, test_labels)[0]
    assert binary_rand_error(pred, gt, connectivity=connectivity) == pytest.approx(expected)
    # through the metric: a (B, C, *spatial) batch of one image
    batch = lambda mask: torch.from_numpy(mask)[None, None].float()  # noqa: E731
    value = RandErrorMetric(connectivity=connectivity)(batch(pred), batch(gt))
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_empty_truth_conventions_and_mean_over_images():
    pred, gt = torch.cat([HALF, HALF, EMPTY]), torch.cat([GT, EMPTY, EMPTY])
    ignore = RandErrorMetric(ignore_empty=True)
    values = ignore(pred, gt)
    assert values[0].item() == pytest.approx(0.4) and torch.isnan(values[1:]).all()
    assert ignore.aggregate().item() == pytest.approx(0.4)  # NaN images are skipped
    keep = RandErrorMetric(ignore_empty=False)
    assert keep(pred, gt).flatten().tolist() == pytest.approx([0.4, 1.0, 0.0])
    assert keep.aggregate().item() == pytest.approx((0.4 + 1.0 + 0.0) / 3)


def test_all_foreground_prediction_is_the_merge_of_all_cells():
    """An all-foreground prediction (no membrane) is one segment: the merge of every true cell, as skimage scores
    it; 0 only when the truth itself is one component (the Rand index judges grouping, not foreground)."""
    gt = np.zeros((12, 12), bool)
    gt[:, :] = True
    gt[4, :] = gt[:, 4] = gt[:, 9] = False  # membranes: 6 cells
    pred = np.ones_like(gt)
    true_labels = skimage_label(gt, connectivity=1)
    assert true_labels.max() == 6
    expected = skimage_rand_error(true_labels, skimage_label(pred, connectivity=1))[0]
    assert expected > 0.5
    assert binary_rand_error(pred, gt) == pytest.approx(expected)
    batch = lambda mask: torch.from_numpy(mask)[None, None].float()  # noqa: E731
    assert RandErrorMetric()(batch(pred), batch(gt)).item() == pytest.approx(expected, rel=1e-6)
    assert binary_rand_error(cols(0, 1, 2, 3), cols(0, 1)) == 0.0  # one true cell: the grouping is right
