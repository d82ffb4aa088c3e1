"""KeepLargestOfPland keeps the largest component of the classes named by their label values, on the training-index
map of a class plan (the same as on the written label map) or on the region channels of a region plan."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experiments.postprocessing import keep_largest_component
from transforms.largest_component import KeepLargestOfPland, plan_channels_of_values

CLASSES = {"region_based": False, "label_values": [0, 2, 5], "out_channels": 3}
REGIONS = {"region_based": True, "regions_class_order": [1, 2], "out_channels": 2}


def test_class_plan_matches_the_label_map_rule():
    index = np.zeros((10, 10), np.int64)
    index[1:4, 1:4] = 1  # label value 2, with a speck
    index[8, 8] = 1
    index[6:8, 0:2] = 2  # label value 5, two components
    index[0, 8] = 2
    out = KeepLargestOfPland(keys="pred", plan=CLASSES, values=[2])({"pred": torch.as_tensor(index)[None]})["pred"]
    values = np.asarray(CLASSES["label_values"])
    expected = keep_largest_component(values[index], [2])
    np.testing.assert_array_equal(values[np.asarray(out)[0]], expected)
    assert np.asarray(out)[0][8, 8] == 0 and np.asarray(out)[0][0, 8] == 2, "value 5 untouched"


def test_region_plan_channels():
    pred = torch.zeros(2, 8, 8)
    pred[0, 0:3, 0:3] = 1
    pred[0, 6, 6] = 1
    pred[1, 6, 6] = 1
    pred[1, 0, 7] = 1
    out = KeepLargestOfPland(keys="pred", plan=REGIONS, values=[1])({"pred": pred.clone()})["pred"]
    assert out[0, 6, 6] == 0 and out[0, 1, 1] == 1
    assert torch.equal(torch.as_tensor(out[1]), pred[1]), "region 2 untouched"


def test_nothing_to_keep_and_errors():
    pred = torch.randint(0, 3, (1, 6, 6))
    assert torch.equal(KeepLargestOfPland(keys="pred", plan=CLASSES, values=[])({"pred": pred})["pred"], pred)
    assert plan_channels_of_values(CLASSES, [5, 2]) == [2, 1]
    with pytest.raises(ValueError, match="not a foreground label"):
        plan_channels_of_values(CLASSES, [3])
    with pytest.raises(ValueError, match="not a foreground label"):
        plan_channels_of_values(CLASSES, [0])
