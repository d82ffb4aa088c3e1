"""The generic path's patch sampler: foreground oversampling, padding of small cases, 2D patches of slices, mirroring,
random states per DataLoader worker."""

from __future__ import annotations

import pytest
import torch
from monai.data import DataLoader
from monai.transforms import Compose, RandomizableTransform

from data.sampling import PatchDataset, RandElasticd, RandMirrord, crop_or_pad


def _case(shape=(20, 18, 6), fg=((3, 4, 2),), value=2):
    image = torch.arange(int(torch.tensor(shape).prod()), dtype=torch.float32).reshape(1, *shape)
    label = torch.zeros(1, *shape)
    for v in fg:
        label[(0, *v)] = value
    return {"image": image, "label": label, "case_id": "c0"}


def test_crop_or_pad_pads_with_zeros_outside():
    x = torch.ones(1, 4, 4)
    out = crop_or_pad(x, [-1, 2], [3, 3])
    assert out.shape == (1, 3, 3)
    assert out[0, 0].sum() == 0, "row -1 is outside: zeros"
    assert out[0, 1:, :2].sum() == 4 and out[0, :, 2].sum() == 0, "columns 2, 3 inside, column 4 padded"


def test_foreground_fraction_one_centres_every_patch_on_a_labelled_voxel():
    ds = PatchDataset([_case()], patch_size=[5, 5, 3], samples_per_epoch=20, foreground_fraction=1.0, seed=1)
    for i in range(len(ds)):
        assert ds[i]["label"].sum() == 2, "the only labelled voxel is in every patch"
    background = PatchDataset([_case()], patch_size=[5, 5, 3], samples_per_epoch=40, foreground_fraction=0.0, seed=1)
    hits = sum(int(background[i]["label"].sum() > 0) for i in range(len(background)))
    assert hits < 20, f"uniform patches rarely hold one voxel of 2160, got {hits} of 40"


def test_small_cases_are_padded_to_the_patch():
    ds = PatchDataset([_case(shape=(4, 5, 3))], patch_size=[8, 8, 4], samples_per_epoch=3, foreground_fraction=0.5)
    sample = ds[0]
    assert sample["image"].shape == (1, 8, 8, 4) and sample["label"].shape == (1, 8, 8, 4)
    assert sample["image"].dtype == torch.float32 and sample["case_id"] == "c0"


def test_2d_patches_come_from_slices_along_the_slice_axis():
    case = _case(shape=(10, 12, 7), fg=((5, 6, 4),))
    ds = PatchDataset([case], patch_size=[4, 4], samples_per_epoch=5, slice_axis=0, foreground_fraction=1.0)
    sample = ds[0]
    assert sample["image"].shape == (1, 4, 4), "slices along axis 0 are (12, 7); patches (4, 4)"
    assert sample["label"].sum() == 2
    # every image value of the patch belongs to slice x = 5 of the volume (values are the flat voxel index)
    x = (sample["image"][sample["image"] > 0] // (12 * 7)).unique()
    assert x.tolist() == [5]


def test_patch_size_of_wrong_length_is_refused():
    with pytest.raises(ValueError, match="patch_size"):
        PatchDataset([_case()], patch_size=[4], samples_per_epoch=1)[0]


def test_mirror_flips_image_and_label_alike_on_every_axis():
    t = RandMirrord(keys=["image", "label"], prob=1.0)
    d = _case(shape=(3, 4, 5), fg=((1, 2, 3),))
    out = t(d)
    assert torch.equal(out["image"], torch.flip(d["image"], dims=[1, 2, 3]))
    assert torch.equal(out["label"], torch.flip(d["label"], dims=[1, 2, 3]))
    assert torch.equal(RandMirrord(keys=["image"], prob=0.0)(d)["image"], d["image"])


@pytest.mark.parametrize("shape", [(1, 16, 16), (1, 12, 12, 8)])
def test_elastic_keeps_shape_in_2d_and_3d(shape):
    t = RandElasticd(keys=["image", "label"], prob=1.0, magnitude_range=(1.0, 2.0))
    t.set_random_state(0)
    out = t({"image": torch.rand(shape), "label": torch.zeros(shape)})
    assert out["image"].shape == shape and out["label"].shape == shape


class _Draw(RandomizableTransform):
    """Records one draw of its random state per sample."""

    def __call__(self, data):
        return {**data, "draw": torch.tensor(self.R.rand())}


def test_dataloader_workers_draw_different_augmentations():
    volumes = [{"image": torch.zeros(1, 8, 8, 8), "label": torch.zeros(1, 8, 8, 8)}] * 2
    dataset = PatchDataset(volumes, [4, 4, 4], samples_per_epoch=8, transform=Compose([_Draw()]))
    draws = [float(b["draw"]) for b in DataLoader(dataset, batch_size=1, num_workers=2)]
    assert len(set(draws)) == len(draws), f"workers repeat each other's augmentation draws: {draws}"


def test_set_random_state_seeds_the_transforms_reproducibly():
    volumes = [{"image": torch.zeros(1, 8, 8, 8), "label": torch.zeros(1, 8, 8, 8)}]

    def draws(seed):
        dataset = PatchDataset(volumes, [4, 4, 4], samples_per_epoch=4, transform=Compose([_Draw()]))
        dataset.set_random_state(seed)
        return [float(dataset[i]["draw"]) for i in range(4)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
