"""Batch-level flips + shear do what the per-slice MONAI chain does for the same draws, keep labels binary, and
draw as the chain draws (flip frequency, shear range)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from monai.transforms import Affine, Flip
from torch.utils.data import DataLoader

from transforms import BatchTransformCollate, RandFlipShearBatchd, flip_shear_matrices


def _reference(x: torch.Tensor, flips, shear: float, mode: str) -> torch.Tensor:
    """The per-slice chain of msd_task01_2d.yaml with its random draws fixed."""
    if flips[0]:
        x = Flip(spatial_axis=0)(x)
    if flips[1]:
        x = Flip(spatial_axis=1)(x)
    return torch.as_tensor(Affine(shear_params=(shear, 0.0), mode=mode, padding_mode="zeros", image_only=True)(x))


@pytest.mark.parametrize("size", [(20, 28), (17, 17)])
def test_equals_monai_flip_flip_affine_for_the_same_draws(size):
    torch.manual_seed(0)
    image = torch.rand(6, 2, *size)
    label = (torch.rand(6, 1, *size) > 0.7).float()
    t = RandFlipShearBatchd(keys=["image", "label"], mode=["bilinear", "nearest"], shear_degrees=20.0)
    t.set_random_state(3)
    out = t({"image": image, "label": label, "case_id": ["a"] * 6})
    assert out["image"].shape == image.shape and out["label"].shape == label.shape and out["case_id"] == ["a"] * 6
    assert {tuple(f) for f in t._flips} != {(False, False)}, "some sample is flipped"
    for i in range(6):
        ref_image = _reference(image[i], t._flips[i], t._shear[i], "bilinear")
        torch.testing.assert_close(out["image"][i], ref_image, atol=1e-5, rtol=0)
        ref_label = _reference(label[i], t._flips[i], t._shear[i], "nearest")
        # nearest neighbour may round a point exactly between two voxels either way: allow a few such voxels
        assert (out["label"][i] != ref_label).float().mean() < 0.01
    assert set(out["label"].unique().tolist()) <= {0.0, 1.0}, "labels stay binary"


def test_flips_only_are_exact_and_draws_follow_the_probabilities():
    x = torch.arange(2 * 1 * 3 * 4, dtype=torch.float32).reshape(2, 1, 3, 4).repeat(200, 1, 1, 1)
    t = RandFlipShearBatchd(keys="image", shear_degrees=0.0)
    t.set_random_state(0)
    out = t({"image": x})["image"]
    for i in range(len(x)):
        expected = x[i]
        if t._flips[i, 0]:
            expected = expected.flip(1)
        if t._flips[i, 1]:
            expected = expected.flip(2)
        assert torch.equal(out[i], expected)
    assert 0.4 < t._flips.mean(axis=0).min() and t._flips.mean(axis=0).max() < 0.6
    s = RandFlipShearBatchd(keys="image", flip_prob=0.0, shear_degrees=2.0)
    s.set_random_state(0)
    s({"image": x})
    assert not s._flips.any() and 0 <= s._shear.min() and s._shear.max() <= math.tan(math.radians(2.0))
    assert s._shear.max() > 0.5 * math.tan(math.radians(2.0))


def test_flip_shear_matrices_compose_flip_then_shear():
    m = flip_shear_matrices(torch.tensor([True, False]), torch.tensor([False, True]), torch.tensor([0.1, 0.2]))
    torch.testing.assert_close(m[0], torch.tensor([[-1.0, -0.1], [0.0, 1.0]]))
    torch.testing.assert_close(m[1], torch.tensor([[1.0, 0.2], [0.0, -1.0]]))


def test_bad_input_and_arguments():
    t = RandFlipShearBatchd(keys=["image", "label"])
    with pytest.raises(ValueError, match="'image' must be a \\(B, C, H, W\\) tensor"):
        t({"image": torch.zeros(1, 4, 4), "label": torch.zeros(1, 1, 4, 4)})
    with pytest.raises(ValueError, match="batch sizes differ"):
        t({"image": torch.zeros(2, 1, 4, 4), "label": torch.zeros(3, 1, 4, 4)})
    with pytest.raises(ValueError, match="flip_prob"):
        RandFlipShearBatchd(keys="image", flip_prob=2.0)
    with pytest.raises(ValueError, match="shear_degrees"):
        RandFlipShearBatchd(keys="image", shear_degrees=90.0)


def test_collate_in_a_loader_gives_augmented_batches():
    samples = [{"image": torch.rand(4, 16, 16), "label": (torch.rand(1, 16, 16) > 0.5).float()} for _ in range(8)]
    transform = RandFlipShearBatchd(keys=["image", "label"], mode=["bilinear", "nearest"], shear_degrees=10.0)
    transform.set_random_state(0)
    loader = DataLoader(samples, batch_size=4, collate_fn=BatchTransformCollate(transform))
    batches = list(loader)
    assert [b["image"].shape for b in batches] == [(4, 4, 16, 16)] * 2
    stacked = torch.stack([s["image"] for s in samples[:4]])
    assert not torch.allclose(batches[0]["image"], stacked), "augmented"
    assert set(torch.cat([b["label"] for b in batches]).unique().tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(transform._flips.shape, (4, 2))
