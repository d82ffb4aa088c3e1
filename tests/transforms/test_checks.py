from __future__ import annotations

import pickle
from copy import deepcopy

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset, MetaTensor
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged

from data.errors import DatasetError
from transforms.checks import CheckVolumed
from formats.msd.synthetic import msd_task01_affine

SIZE = (9, 11, 5)


def _case(tmp_path, name="BRATS_007", image_fn=None, label_fn=None):
    """Write a tiny (image, label) pair, optionally corrupted, and return its MONAI data dict."""
    rng = np.random.default_rng(0)
    image = rng.uniform(1, 100, size=(*SIZE, 4)).astype(np.float32)
    label = rng.integers(0, 4, size=SIZE).astype(np.uint8)
    if image_fn:
        image_fn(image)
    if label_fn:
        label_fn(label)
    paths = {"image": tmp_path / f"img_{name}.nii.gz", "label": tmp_path / f"lab_{name}.nii.gz"}
    nib.save(nib.Nifti1Image(image, msd_task01_affine(SIZE)), str(paths["image"]))
    nib.save(nib.Nifti1Image(label, msd_task01_affine(SIZE)), str(paths["label"]))
    return {key: str(path) for key, path in paths.items()}


def _load():
    return Compose([LoadImaged(keys=["image", "label"]), EnsureChannelFirstd(keys=["image", "label"])])


def _pipeline(**kwargs):
    return Compose([*_load().transforms, CheckVolumed(**kwargs)])


def _set(index, value):
    def corrupt(array):
        array[index] = value

    return corrupt


BAD_INPUTS = [
    ("nan", {"image_fn": _set((1, 2, 3, 2), np.nan)}, "image", r"1 NaN and 0 infinite voxel\(s\) \(channel\(s\) \[2\]"),
    ("inf", {"image_fn": _set((0, 0, 0, 1), -np.inf)}, "image", r"0 NaN and 1 infinite"),
    ("label_5", {"label_fn": _set((4, 4, 4), 5)}, "label", r"value\(s\) \{5\} outside the allowed labels \[0, 1, 2, 3"),
]


def test_good_volumes_pass_unchanged(tmp_path):
    loaded = _load()(_case(tmp_path))
    checked = CheckVolumed()(loaded)
    assert checked.keys() == loaded.keys()
    assert all(checked[key] is loaded[key] for key in loaded)
    assert tuple(checked["image"].shape) == (4, *SIZE)


def test_missing_label_is_skipped_by_default(tmp_path):
    files = {"image": _case(tmp_path)["image"]}
    data = Compose([LoadImaged(keys="image"), EnsureChannelFirstd(keys="image"), CheckVolumed()])(files)
    assert "label" not in data
    with pytest.raises(KeyError):
        CheckVolumed(allow_missing_keys=False)(data)


@pytest.mark.parametrize("name, corruption, key, message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_volume_names_the_file_when_called_directly(tmp_path, name, corruption, key, message):
    files = _case(tmp_path, **corruption)
    loaded = _load()(files)
    with pytest.raises(DatasetError, match=message) as err:
        CheckVolumed()(loaded)
    assert str(err.value).startswith(files[key])


@pytest.mark.parametrize("name, corruption, key, message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_volume_names_the_file_through_compose_and_dataset(tmp_path, name, corruption, key, message):
    files = _case(tmp_path, **corruption)
    pipeline = _pipeline()
    # Compose wraps the error in RuntimeError; its own message still names the file, the cause is ours
    with pytest.raises(RuntimeError, match=message) as err:
        pipeline(dict(files))
    assert files[key] in str(err.value) and isinstance(err.value.__cause__, DatasetError)
    with pytest.raises(RuntimeError) as err:
        Dataset(data=[dict(files)], transform=pipeline)[0]
    assert files[key] in str(err.value) and isinstance(err.value.__cause__, DatasetError)
    # a clean case afterwards: the transform no longer reports the old failure
    good = _case(tmp_path, name="BRATS_008")
    pipeline(good)
    assert files[key] not in str(pipeline.transforms[-1])


def test_dataloader_worker_error_names_the_file(tmp_path):
    files = _case(tmp_path, image_fn=_set((1, 1, 1, 0), np.nan))
    batches = iter(DataLoader(Dataset(data=[files], transform=_pipeline()), batch_size=1, num_workers=1))
    try:
        with pytest.raises(RuntimeError) as err:
            next(batches)
        assert files["image"] in str(err.value)
    finally:
        batches._shutdown_workers()  # left to garbage collection, the worker shutdown waits 5 s


def test_allowed_labels_and_keys_configurable():
    image = MetaTensor(torch.ones(2, 3, 3, 3), meta={"filename_or_obj": "/x/img.nii.gz"})
    label = MetaTensor(torch.full((1, 3, 3, 3), 5.0), meta={"filename_or_obj": "/x/seg.nii.gz"})
    data = {"img": image, "seg": label}
    assert CheckVolumed(image_keys="img", label_keys="seg", allowed_labels=[0, 5])(data)["seg"] is label
    assert CheckVolumed(image_keys="img", label_keys="seg", allowed_labels=None)(data)["seg"] is label
    with pytest.raises(DatasetError, match="^/x/seg.nii.gz: label 'seg'"):
        CheckVolumed(image_keys="img", label_keys="seg", allowed_labels=(0, 1))(data)
    label[0, 0, 0, 0] = 0.5  # non-integer values are not labels either
    with pytest.raises(DatasetError, match=r"has 1 voxel\(s\) with value\(s\) \{0.5\}"):
        CheckVolumed(image_keys="img", label_keys="seg", allowed_labels=[0, 5])(data)
    # plain arrays without metadata: the case id stands in for the file name
    with pytest.raises(DatasetError, match="case BRATS_042"):
        CheckVolumed()({"image": np.full((1, 2, 2, 2), np.inf, np.float32), "case_id": "BRATS_042"})


def test_finite_check_sum_shortcut_neither_misses_nor_invents():
    """The check first sums the image: +inf and -inf cancelling to NaN, or NaN among huge values, are still found;
    finite voxels whose sum overflows (float16: 2 x 60000) still pass."""
    both = torch.zeros(1, 2, 2, 2)
    both[0, 0, 0, 0], both[0, 1, 1, 1] = float("inf"), -float("inf")
    with pytest.raises(DatasetError, match=r"0 NaN and 2 infinite"):
        CheckVolumed()({"image": both, "case_id": "c1"})
    huge = torch.full((1, 2, 2, 2), 3e38)
    huge[0, 0, 0, 1] = float("nan")
    with pytest.raises(DatasetError, match=r"1 NaN and 0 infinite"):
        CheckVolumed()({"image": huge, "case_id": "c2"})
    overflowing = torch.full((1, 2, 1, 1), 60000.0, dtype=torch.float16)
    assert not torch.isfinite(overflowing.sum())  # the shortcut fails, the full check decides
    assert CheckVolumed()({"image": overflowing, "case_id": "c3"})["image"] is overflowing


def test_picklable_and_copyable_with_a_recorded_failure():
    check = CheckVolumed()
    with pytest.raises(DatasetError):
        check({"image": torch.tensor([[float("nan")]])})
    assert "failed:" in str(check) and "failed:" not in repr(check)
    for copy in (pickle.loads(pickle.dumps(check)), deepcopy(check)):
        assert copy.allowed_labels == (0, 1, 2, 3)
        assert copy({"image": torch.ones(1, 2)})["image"].sum() == 2
