from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.transforms import Rand2DElasticd

from transforms.elastic import RandGridElasticd, elastic_displacement


def _ramps(n: int) -> torch.Tensor:
    """Two channels holding each pixel's row and column index: resampling them reads the displacement."""
    axis = torch.arange(n, dtype=torch.float32)
    rows, cols = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([rows, cols])


def test_zero_displacement_is_the_identity():
    x = _ramps(64)
    out = RandGridElasticd(keys="image", sigma=0.0, mode="bicubic", padding_mode="border")({"image": x})["image"]
    torch.testing.assert_close(out.as_tensor(), x, atol=1e-3, rtol=0)


def test_monai_rand2delasticd_with_a_coarse_grid_is_not_the_identity():
    """Why RandGridElasticd exists (see transforms/elastic.py): MONAI's coarse-grid elastic warps even at 0."""
    x = _ramps(64)
    monai = Rand2DElasticd(keys="image", spacing=(32, 32), magnitude_range=(0, 0), prob=1.0, mode="bilinear")
    out = monai.set_random_state(0)({"image": x})["image"]
    assert float((out - x).abs().max()) > 1.0, "MONAI's Rand2DElasticd no longer warps at zero magnitude: reconsider"


def test_control_points_move_by_the_drawn_gaussian_offsets():
    n = 65  # odd: the 3 x 3 control points fall on pixels 0, 32, 64
    t = RandGridElasticd(keys="image", grid_points=3, sigma=3.0, mode="bilinear", padding_mode="border")
    t.set_random_state(0)
    out = t({"image": _ramps(n)})["image"]
    offsets = t.offsets  # (2, 3, 3): row and column displacement in pixels
    centre = out[:, 32, 32] - torch.tensor([32.0, 32.0])
    torch.testing.assert_close(centre, offsets[:, 1, 1], atol=1e-3, rtol=0)
    field = elastic_displacement(offsets, (n, n))
    torch.testing.assert_close(field[:, ::32, ::32], offsets, atol=1e-5, rtol=0)


def test_offsets_have_the_configured_standard_deviation():
    t = RandGridElasticd(keys="image", grid_points=3, sigma=10.0).set_random_state(0)
    draws = []
    for _ in range(200):
        t({"image": torch.zeros(1, 16, 16)})
        draws.append(t.offsets.flatten())
    std = float(torch.cat(draws).std())
    assert 9.0 < std < 11.0, std


def test_labels_keep_their_values_image_deforms_and_keys_share_the_field():
    rng = np.random.default_rng(0)
    label = torch.as_tensor((rng.random((1, 48, 48)) > 0.5).astype(np.float32))
    image = label * 0.8 + 0.1
    t = RandGridElasticd(keys=["image", "label"], grid_points=3, sigma=4.0).set_random_state(0)
    out = t({"image": image, "label": label})
    assert set(out["label"].unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(out["label"].as_tensor(), label)
    # the image (bicubic) follows the label (nearest): where the label is 1, the image is bright
    bright = out["image"][out["label"] > 0.5].mean()
    dark = out["image"][out["label"] < 0.5].mean()
    assert bright > dark + 0.4
    again = RandGridElasticd(keys=["image", "label"], grid_points=3, sigma=4.0).set_random_state(0)
    torch.testing.assert_close(again({"image": image, "label": label})["label"], out["label"])


def test_prob_zero_passes_through_and_bad_arguments_fail():
    x = torch.rand(1, 8, 8)
    out = RandGridElasticd(keys="image", prob=0.0)({"image": x})["image"]
    assert torch.equal(out.as_tensor(), x)
    with pytest.raises(ValueError, match="grid_points"):
        RandGridElasticd(keys="image", grid_points=1)
    with pytest.raises(ValueError, match="sigma"):
        RandGridElasticd(keys="image", sigma=(5, 1))
    with pytest.raises(ValueError, match="2D"):
        RandGridElasticd(keys="image")({"image": torch.rand(1, 8, 8, 8)})
