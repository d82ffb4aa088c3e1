"""Normalisation by plan entries against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
from monai.data import MetaTensor

from transforms.intensity import NormalizeByPlan, NormalizeByPland, normalize_channel


def test_ct_clips_then_global_zscore():
    x = torch.tensor([-1000.0, 0.0, 50.0, 2000.0])
    out = normalize_channel(x, {"scheme": "ct", "clip": [-100, 100], "mean": 20.0, "std": 40.0})
    torch.testing.assert_close(out, torch.tensor([-3.0, -0.5, 0.75, 2.0]))
    with pytest.raises(ValueError, match="clip, mean and std"):
        normalize_channel(x, {"scheme": "ct"})


def test_zscore_rescale_none():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    s = math.sqrt(1.25)
    torch.testing.assert_close(
        normalize_channel(x, {"scheme": "zscore", "use_nonzero_mask": False}),
        torch.tensor([-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]),
    )
    torch.testing.assert_close(normalize_channel(torch.tensor([2.0, 4.0, 6.0]), {"scheme": "rescale_to_0_1"}),
                               torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(normalize_channel(x, {"scheme": "none"}), x)
    torch.testing.assert_close(normalize_channel(torch.full((3,), 7.0), {"scheme": "rescale_to_0_1"}), torch.zeros(3))
    with pytest.raises(ValueError, match="unknown normalisation scheme 'l2'"):
        normalize_channel(x, {"scheme": "l2"})


def test_nonzero_mask_is_shared_by_the_channels_and_zero_outside():
    image = torch.tensor([[0.0, 2.0, 4.0, 0.0], [5.0, 0.0, 0.0, 0.0]])
    out = NormalizeByPlan([{"scheme": "zscore", "use_nonzero_mask": True}] * 2)(image)
    a = math.sqrt(8 / 3)  # channel 0 over the mask [T, T, T, F]: values 0, 2, 4 -> mean 2
    b = math.sqrt(150 / 27)  # channel 1 over the mask: 5, 0, 0 -> mean 5/3
    torch.testing.assert_close(out[0], torch.tensor([-2 / a, 0.0, 2 / a, 0.0]))
    torch.testing.assert_close(out[1], torch.tensor([(10 / 3) / b, -(5 / 3) / b, -(5 / 3) / b, 0.0]))


def test_dictionary_form_keeps_meta_and_checks_channels():
    affine = torch.diag(torch.tensor([0.9, 0.9, 3.0, 1.0], dtype=torch.float64))
    img = MetaTensor(torch.tensor([[[1.0, 3.0]], [[10.0, 30.0]]]), affine=affine)
    d = NormalizeByPland("image", [{"scheme": "rescale_to_0_1"}, {"scheme": "none"}])({"image": img})
    assert isinstance(d["image"], MetaTensor) and torch.equal(d["image"].affine, affine)
    torch.testing.assert_close(d["image"].as_tensor(), torch.tensor([[[0.0, 1.0]], [[10.0, 30.0]]]))
    with pytest.raises(ValueError, match="image has 2 channel\\(s\\) but the plan normalises 1"):
        NormalizeByPlan([{"scheme": "none"}])(img)
