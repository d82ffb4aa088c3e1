"""Keeping the largest connected component is applied to a class only when it raises the held-out mean Dice."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.postprocessing import decide_largest_component, dice_of_class, keep_largest_component


def test_dice_of_class():
    a = np.array([[1, 1, 0], [0, 2, 2]])
    b = np.array([[1, 0, 0], [0, 2, 2]])
    assert dice_of_class(a, b, 1) == pytest.approx(2 / 3)
    assert dice_of_class(a, b, 2) == 1.0
    assert dice_of_class(a, b, 3) == 1.0  # absent from both


def test_keep_largest_component_per_class():
    pred = np.zeros((8, 8), np.uint8)
    pred[1:4, 1:4] = 1  # 9 voxels
    pred[6, 6] = 1  # a speck of class 1
    pred[6, 0:2] = 2  # class 2 untouched when not applied
    out = keep_largest_component(pred, [1])
    assert out[6, 6] == 0 and out[2, 2] == 1 and (out[6, 0:2] == 2).all()


def test_decision_follows_the_dice():
    label = np.zeros((10, 10), np.uint8)
    label[2:6, 2:6] = 1
    label[7:9, 7:9] = 2
    label[7:9, 0:2] = 2  # class 2 truly has two components
    pred = label.copy()
    pred[0, 9] = 1  # a false-positive speck of class 1: removing it helps
    decision = decide_largest_component([pred], [label], classes=[1, 2])
    assert decision.classes == [1], decision.table()
    assert decision.dice_after[1] > decision.dice_before[1]
    assert decision.dice_after[2] < decision.dice_before[2], "keeping one of two true components hurts class 2"
    assert "class 1:" in decision.table() and "(apply)" in decision.table()
    with pytest.raises(ValueError, match="as many predictions as labels"):
        decide_largest_component([pred], [], classes=[1])


def test_keep_largest_component_leaves_its_input_alone():
    """The decision scores the same predictions with and without the step: the input must not change."""
    pred = np.zeros((6, 6, 2), np.uint8)
    pred[0:3, 0:3] = 1
    pred[5, 5] = 1
    before = pred.copy()
    out = keep_largest_component(pred, [1])
    assert out[5, 5, 0] == 0
    np.testing.assert_array_equal(pred, before)
