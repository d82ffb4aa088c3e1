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


def _nested_case():
    """A BraTS-like case: whole = [1, 2, 3] (painted 1), core = [2, 3] (painted 2), enhancing = [3] (painted 3).
    The core's value-2 voxels are two parts split by the enhancing band (the core region is one component); the
    prediction adds a false core speck far away."""
    from experiments.postprocessing import Regions

    regions = Regions(labels=((1, 2, 3), (2, 3), (3,)), order=(1, 2, 3))
    label = np.zeros((12, 12), np.int64)
    label[2:10, 2:10] = 1
    label[4:8, 3:5] = 2  # left part of the core's value 2 (8 voxels)
    label[4:8, 5:7] = 3  # the enhancing band between
    label[4:8, 7:8] = 2  # right part (4 voxels)
    pred = label.copy()
    pred[0, 11] = 2  # a false speck of core
    return regions, label, pred


def test_regions_are_decided_on_the_region_not_on_its_painted_value():
    """Per region (as inference applies it): keeping the core's largest component removes the speck only (apply).
    Per painted value, the same step would cut the core's value-2 voxels in two (not applied): the old, wrong
    decision for nested regions."""
    regions, label, pred = _nested_case()
    decision = decide_largest_component([pred], [label], classes=[1, 2, 3], regions=regions)
    assert decision.classes == [2], decision.table()
    assert decision.dice_before[2] == pytest.approx(40 / 41) and decision.dice_after[2] == 1.0
    # whole: the speck stays a core voxel, so the written map still has it inside the whole region: no gain
    assert decision.dice_after[1] == decision.dice_before[1]
    by_value = decide_largest_component([pred], [label], classes=[1, 2, 3])
    assert by_value.classes == [] and by_value.dice_after[2] < by_value.dice_before[2]


def test_region_step_writes_what_inference_writes():
    """keep_largest_component with regions == the inference chain: region channels -> KeepLargestOfPland ->
    RegionsToLabel (the writer's conversion)."""
    import torch

    from transforms.labels import ConvertToRegions, RegionsToLabel
    from transforms.largest_component import KeepLargestOfPland

    regions, _, pred = _nested_case()
    plan = {"region_based": True, "regions_class_order": [1, 2, 3]}
    for values in ([1], [2], [3], [1, 2, 3]):
        channels = ConvertToRegions([list(r) for r in regions.labels])(torch.tensor(pred)[None])
        kept = KeepLargestOfPland(keys="pred", plan=plan, values=values)({"pred": channels})["pred"]
        written = np.asarray(RegionsToLabel(regions.order)(kept))[0].astype(np.int64)
        np.testing.assert_array_equal(keep_largest_component(pred, values, regions), written, err_msg=str(values))
    assert keep_largest_component(pred, [2], regions)[0, 11] == 1, "the speck leaves the core, stays in the whole"


def test_regions_from_plan():
    from experiments.postprocessing import Regions

    plan = {"region_based": True, "labels": {"background": 0, "whole": [1, 2, 3], "core": [2, 3], "enh": 3},
            "regions_class_order": [1, 2, 3]}
    regions = Regions.from_plan(plan)
    assert regions.labels == ((1, 2, 3), (2, 3), (3,)) and regions.order == (1, 2, 3)
    assert Regions.from_plan({"region_based": False}) is None
    with pytest.raises(ValueError, match="one value per region"):
        Regions.from_plan({**plan, "regions_class_order": [1, 2]})
    with pytest.raises(ValueError, match="not a value of regions_class_order"):
        regions.channel(4)
