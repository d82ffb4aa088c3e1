from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import CacheDataset, MetaTensor
from monai.transforms import Lambdad

from data.datasets import VolumeSliceDataset, take_slice


def _volumes(depths=(3, 5, 2)):
    items = []
    for i, depth in enumerate(depths):
        image = torch.arange(2 * 4 * 6 * depth, dtype=torch.float32).reshape(2, 4, 6, depth) + 1000 * i
        label = (image[:1] > image.mean()).float()
        items.append({"image": MetaTensor(image), "label": label, "case_id": f"case{i}"})
    return items


def test_every_slice_of_every_volume_is_one_sample():
    volumes = _volumes()
    ds = VolumeSliceDataset(volumes, keys=("image", "label"), axis=2)
    assert len(ds) == 3 + 5 + 2
    seen = [(s["case_id"], s["slice_index"]) for s in ds]
    assert seen == [(f"case{v}", z) for v, d in enumerate((3, 5, 2)) for z in range(d)]
    sample = ds[4]  # volume 1, slice 1
    assert sample["image"].shape == (2, 4, 6) and sample["label"].shape == (1, 4, 6)
    torch.testing.assert_close(sample["image"], volumes[1]["image"].as_tensor()[..., 1])
    assert ds.locate(-1) == (2, 1)
    with pytest.raises(IndexError):
        ds.locate(10)


def test_other_axes_and_transform_applied_per_access():
    volumes = _volumes((4,))
    calls = []
    transform = Lambdad(keys="image", func=lambda x: calls.append(1) or x * 0)
    ds = VolumeSliceDataset(volumes, slice_transform=transform, axis=0)
    assert len(ds) == 4  # spatial axis 0 has size 4
    assert ds[2]["image"].shape == (2, 6, 4) and float(ds[2]["image"].abs().sum()) == 0
    assert len(calls) == 2


def test_slices_are_copies_so_cache_is_never_modified():
    volumes = _volumes((3,))
    before = volumes[0]["image"].clone()
    ds = VolumeSliceDataset(volumes, slice_transform=Lambdad(keys="image", func=lambda x: x.mul_(0)))
    _ = [ds[i] for i in range(len(ds))]
    torch.testing.assert_close(volumes[0]["image"].as_tensor(), before.as_tensor())


def test_volumes_decoded_once_through_cache_dataset():
    loads = []

    def load(case_id):
        loads.append(case_id)
        return case_id

    data = [{"case_id": f"c{i}", "image": np.ones((1, 3, 3, 4), np.float32), "label": np.zeros((1, 3, 3, 4))} for i in range(3)]
    cache = CacheDataset(data, transform=Lambdad(keys="case_id", func=load), cache_rate=1.0, copy_cache=False, progress=False)
    ds = VolumeSliceDataset(cache)
    for _ in range(2):  # two epochs
        _ = [ds[i] for i in range(len(ds))]
    assert sorted(loads) == ["c0", "c1", "c2"]


def test_take_slice_numpy_and_meta():
    arr = np.random.rand(1, 2, 3, 4).astype(np.float32)
    out = take_slice(arr, 3, 2)
    assert isinstance(out, torch.Tensor) and not isinstance(out, MetaTensor)
    np.testing.assert_allclose(out.numpy(), arr[..., 3])
