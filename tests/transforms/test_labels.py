"""Region labels and label values <-> training indices, against hand-computed maps."""

from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor

from transforms.labels import (
    ConvertToRegionsd,
    IndicesToLabelValuesd,
    LabelValuesToIndicesd,
    RegionsToLabel,
    RegionsToLabeld,
    regions_from_labels,
)

BRATS = {"background": 0, "whole tumor": [1, 2, 3], "tumor core": [2, 3], "enhancing tumor": 3}


def test_regions_from_labels():
    assert regions_from_labels(BRATS) == [[1, 2, 3], [2, 3], [3]]


def test_regions_and_back():
    label = MetaTensor(torch.tensor([[0.0, 1.0, 2.0, 3.0, 2.0]]), affine=torch.eye(4) * 2)
    regions = ConvertToRegionsd("label", BRATS)({"label": label})["label"]
    expected = torch.tensor([[0, 1, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 1, 0]], dtype=torch.float32)
    torch.testing.assert_close(regions.as_tensor(), expected)
    assert torch.equal(regions.affine, label.affine)
    back = RegionsToLabeld("pred", [1, 2, 3])({"pred": regions})["pred"]
    torch.testing.assert_close(back.as_tensor(), label.as_tensor())
    probs = torch.tensor([[0.9, 0.2, 0.7], [0.6, 0.1, 0.4], [0.2, 0.9, 0.51]])
    # region after region: voxel 0 WT -> 1, TC -> 2 (ET no); voxel 1 only ET -> 3; voxel 2 WT -> 1, ET -> 3
    torch.testing.assert_close(RegionsToLabel([1, 2, 3])(probs), torch.tensor([[2.0, 3.0, 3.0]]))
    with pytest.raises(ValueError, match="regions_class_order has 3"):
        RegionsToLabel([1, 2, 3])(probs[:2])


def test_label_values_and_indices():
    label = MetaTensor(torch.tensor([[0.0, 4.0, 2.0, 1.0]]), meta={"filename_or_obj": "/d/labelsTr/a.nii.gz"})
    idx = LabelValuesToIndicesd("label", [0, 1, 2, 4])({"label": label})["label"]
    torch.testing.assert_close(idx.as_tensor(), torch.tensor([[0.0, 3.0, 2.0, 1.0]]))
    back = IndicesToLabelValuesd("pred", [0, 1, 2, 4])({"pred": idx})["pred"]
    torch.testing.assert_close(back.as_tensor(), label.as_tensor())
    with pytest.raises(ValueError, match="a.nii.gz: label value\\(s\\) \\[3\\] are not among"):
        LabelValuesToIndicesd("label", [0, 1, 2, 4])({"label": label - 1 + (label == 0)})
    with pytest.raises(ValueError, match="indices must be in 0..3"):
        IndicesToLabelValuesd("pred", [0, 1, 2, 4])({"pred": torch.tensor([[5.0]])})
