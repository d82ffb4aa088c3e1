"""FastRandAffined: the same transforms as MONAI's RandAffined (same seed, same draws, same output up to float
rounding) in 2D and 3D, for tensors and MetaTensors; the normalised matrix on known maps; MONAI's path where the fast
one does not apply."""

from __future__ import annotations

import math

import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import RandAffined

from transforms import FastRandAffined
from transforms.affine import normalized_theta


def _args(dims: int, prob: float = 0.5, **extra) -> dict:
    return dict(
        keys=["image", "label"], prob=prob, rotate_range=[math.radians(30)] * (3 if dims == 3 else 1),
        scale_range=[(-0.3, 0.4)] * dims, mode=["bilinear", "nearest"], padding_mode="zeros", **extra,
    )  # fmt: skip


def _sample(shape: tuple[int, ...], seed: int = 0, meta: bool = False) -> dict:
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(2, *shape, generator=g)
    label = torch.randint(0, 4, (1, *shape), generator=g).float()
    if meta:
        image, label = MetaTensor(image), MetaTensor(label)
    return {"image": image, "label": label, "case_id": "c0"}


@pytest.mark.parametrize("shape", [(20, 18, 12), (21, 16)])
@pytest.mark.parametrize("meta", [False, True])
def test_same_seed_same_output_as_monai(shape, meta):
    monai_t, fast_t = RandAffined(**_args(len(shape))), FastRandAffined(**_args(len(shape)))
    monai_t.set_random_state(3)
    fast_t.set_random_state(3)
    applied = 0
    for i in range(8):
        data = _sample(shape, seed=i, meta=meta)
        expected, got = monai_t(data), fast_t(data)
        applied += int(monai_t._do_transform)
        assert type(got["image"]) is torch.Tensor and got["image"].dtype == torch.float32
        assert got["case_id"] == "c0"
        torch.testing.assert_close(got["image"], expected["image"].as_tensor(), atol=1e-4, rtol=1e-4)
        assert torch.equal(got["label"], expected["label"].as_tensor()), f"call {i}: labels differ"
    assert 0 < applied < 8, "the test covers both the applied and the skipped case"


def test_from_rand_affined_keeps_arguments_and_random_state():
    monai_t = RandAffined(**_args(3, prob=1.0))
    monai_t.set_random_state(7)
    fast_t = FastRandAffined.from_rand_affined(monai_t)
    data = _sample((12, 10, 8))
    torch.testing.assert_close(fast_t(data)["image"], monai_t(data)["image"].as_tensor(), atol=1e-4, rtol=1e-4)
    with pytest.raises(TypeError, match="RandAffined"):
        FastRandAffined.from_rand_affined(object())


def test_normalized_theta_identity_and_shift():
    assert torch.allclose(normalized_theta(torch.eye(4), (6, 5, 4)), torch.eye(3, 4)[None])
    # MONAI's matrix maps output voxel i to input position i + 2 along the first axis: out[i] = in[i + 2]
    affine = torch.eye(4)
    affine[0, 3] = 2.0
    x = torch.arange(8.0)[None, :, None, None].expand(1, 8, 3, 2).contiguous()
    grid = torch.nn.functional.affine_grid(normalized_theta(affine, (8, 3, 2)), [1, 1, 8, 3, 2], align_corners=False)
    out = torch.nn.functional.grid_sample(x[None], grid, mode="nearest", padding_mode="zeros", align_corners=False)[0]
    assert out[0, :, 0, 0].tolist() == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 0.0, 0.0]


def test_other_output_size_runs_monai():
    args = _args(3, prob=1.0, spatial_size=(10, 10, 6))
    monai_t, fast_t = RandAffined(**args), FastRandAffined(**args)
    monai_t.set_random_state(1)
    fast_t.set_random_state(1)
    data = _sample((12, 10, 8))
    expected, got = monai_t(data), fast_t(data)
    assert tuple(got["image"].shape[1:]) == (10, 10, 6)
    torch.testing.assert_close(got["image"], expected["image"])
    with pytest.raises(NotImplementedError, match="not invertible"):
        fast_t.inverse(got)


@pytest.mark.parametrize("shape", [(16, 14, 10), (18, 12)])
def test_any_dataset_recipe_affine_swapped_gives_the_same_samples(shape):
    """The generic path's RandAffined (any_dataset.yaml's augmentation, 3D and 2D patches) with its ``_target_``
    replaced by FastRandAffined: the same samples for the same seed."""
    from pathlib import Path

    from monai.bundle import ConfigParser

    from data.loaders import rotation_degrees

    root = Path(__file__).resolve().parents[2]
    parser = ConfigParser()
    configs = ["bundles/unet/configs/train.yaml", "bundles/common/configs/any_dataset.yaml"]
    parser.read_config([str(root / c) for c in configs])
    config = parser.get("data#augmentation#0")
    assert config["_target_"] in ("RandAffined", "transforms.FastRandAffined"), "the recipe's first transform moved"
    parser["data#augmentation#0#prob"] = 1.0
    # the rotation the recipe resolves from a plan (data.loaders.rotation_degrees), without a data set to plan from
    parser["data#rotation_degrees"] = rotation_degrees({"spatial_dims": len(shape), "patch_size": list(shape)})
    parser["data#augmentation#0#_target_"] = "RandAffined"
    monai_t = parser.get_parsed_content("data#augmentation#0", lazy=False)
    parser["data#augmentation#0#_target_"] = "transforms.FastRandAffined"
    fast_t = parser.get_parsed_content("data#augmentation#0", lazy=False)
    assert type(monai_t) is RandAffined and type(fast_t) is FastRandAffined
    monai_t.set_random_state(0)
    fast_t.set_random_state(0)
    for i in range(3):
        data = _sample(shape, seed=i)
        expected, got = monai_t(data), fast_t(data)
        torch.testing.assert_close(got["image"], expected["image"].as_tensor(), atol=1e-4, rtol=1e-4)
        assert torch.equal(got["label"], expected["label"].as_tensor())
