from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose
from parameterized import parameterized

from transforms.dihedral import DIHEDRAL_INVERSE, Dihedrald, RandDihedrald, dihedral

# a 3 x 4 image whose 8 dihedral images are all different
IMAGE = torch.arange(12.0).reshape(1, 3, 4)


def _key(t: torch.Tensor) -> tuple:
    return (tuple(t.shape), tuple(torch.as_tensor(t).flatten().tolist()))


def test_the_eight_elements_are_distinct_and_form_the_group():
    images = [dihedral(IMAGE, i) for i in range(8)]
    assert len({_key(x) for x in images}) == 8
    for i in range(8):
        assert torch.equal(dihedral(images[i], DIHEDRAL_INVERSE[i]), IMAGE)
    assert torch.equal(dihedral(IMAGE, 1), torch.rot90(IMAGE, 1, (1, 2)))
    assert torch.equal(dihedral(IMAGE, 4), torch.flip(IMAGE, (1,)))
    np.testing.assert_array_equal(dihedral(IMAGE.numpy(), 5), dihedral(IMAGE, 5).numpy())
    with pytest.raises(ValueError, match="0..7"):
        dihedral(IMAGE, 8)


@parameterized.expand([(i,) for i in range(8)])
def test_deterministic_element_updates_meta_and_inverts(index):
    t = Dihedrald(keys=["image", "label"], index=index)
    data = {"image": MetaTensor(IMAGE.clone()), "label": MetaTensor(IMAGE.clone() % 2)}
    out = t(data)
    assert torch.equal(out["image"].as_tensor(), dihedral(IMAGE, index))
    assert torch.equal(out["label"].as_tensor(), dihedral(IMAGE % 2, index))
    back = t.inverse(out)
    assert torch.equal(back["image"].as_tensor(), IMAGE) and back["image"].shape == IMAGE.shape
    np.testing.assert_allclose(back["image"].affine.numpy(), np.eye(4), atol=1e-6)
    assert len(back["image"].applied_operations) == 0


def test_random_draws_all_eight_uniformly_and_keys_share_the_element():
    t = RandDihedrald(keys=["image", "label"], prob=1.0).set_random_state(0)
    counts: dict[tuple, int] = {}
    for _ in range(800):
        out = t({"image": IMAGE, "label": IMAGE * 10})
        assert torch.equal(torch.as_tensor(out["label"]), torch.as_tensor(out["image"]) * 10)
        counts[_key(out["image"])] = counts.get(_key(out["image"]), 0) + 1
    assert len(counts) == 8
    assert min(counts.values()) > 70 and max(counts.values()) < 130  # 100 expected each


def test_random_is_reproducible_restrictable_and_invertible_through_compose():
    a = RandDihedrald(keys="image").set_random_state(3)
    b = RandDihedrald(keys="image").set_random_state(3)
    for _ in range(10):
        assert torch.equal(a({"image": IMAGE})["image"].as_tensor(), b({"image": IMAGE})["image"].as_tensor())
    rotations = RandDihedrald(keys="image", indices=(0, 1, 2, 3)).set_random_state(0)
    for _ in range(20):
        assert _key(rotations({"image": IMAGE})["image"]) in {_key(dihedral(IMAGE, i)) for i in range(4)}
    pipeline = Compose([RandDihedrald(keys="image", prob=0.5)]).set_random_state(1)
    for _ in range(10):
        out = pipeline({"image": MetaTensor(IMAGE.clone())})
        assert torch.equal(pipeline.inverse(out)["image"].as_tensor(), IMAGE)


def test_three_d_volume_rotates_in_the_chosen_plane():
    volume = torch.arange(24.0).reshape(1, 2, 3, 4)
    out = Dihedrald(keys="v", index=1, spatial_axes=(1, 2))({"v": volume})["v"]
    assert torch.equal(out.as_tensor(), torch.rot90(volume, 1, (2, 3)))
