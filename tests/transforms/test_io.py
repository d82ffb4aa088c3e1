from __future__ import annotations

import pickle

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.transforms import Compose, LoadImaged

from data.errors import DatasetError
from transforms.io import LoadVolumed
from formats.msd.synthetic import msd_task01_affine


def _write(tmp_path, name="img.nii.gz"):
    path = tmp_path / name
    array = np.random.default_rng(0).uniform(size=(9, 11, 5, 4)).astype(np.float32)
    nib.save(nib.Nifti1Image(array, msd_task01_affine((9, 11, 5))), str(path))
    return str(path)


def test_reads_like_load_imaged(tmp_path):
    path = _write(tmp_path)
    ours = LoadVolumed(keys="image", reader="NibabelReader")({"image": path})["image"]
    stock = LoadImaged(keys="image", reader="NibabelReader")({"image": path})["image"]
    torch.testing.assert_close(ours.as_tensor(), stock.as_tensor())
    np.testing.assert_allclose(ours.affine, stock.affine)
    assert ours.meta["filename_or_obj"] == path


def test_truncated_file_is_named_directly_and_through_compose(tmp_path):
    path = _write(tmp_path)
    with open(path, "rb") as f:
        head = f.read(400)  # cut inside the gzipped header
    with open(path, "wb") as f:
        f.write(head)
    load = LoadVolumed(keys="image", reader="NibabelReader")
    # LoadImaged would fall back to ITKReader here, which returns mostly zeros without an error
    with pytest.raises(DatasetError, match="cannot read the volume") as err:
        load({"image": path})
    assert str(err.value).startswith(path) and err.value.__cause__ is not None
    with pytest.raises(RuntimeError) as err:
        Compose([load])({"image": path})
    assert path in str(err.value) and isinstance(err.value.__cause__, DatasetError)
    # the failure is forgotten on the next good call
    good = _write(tmp_path, "good.nii.gz")
    load({"image": good})
    assert path not in str(load)


def test_picklable(tmp_path):
    load = pickle.loads(pickle.dumps(LoadVolumed(keys="image")))
    loaded = load({"image": _write(tmp_path)})["image"]  # a 4D NIfTI arrives channel-first (data.nifti_reader)
    assert loaded.shape == (4, 9, 11, 5) and loaded.meta["original_channel_dim"] == 0


def test_modalities_with_rounded_affines_stack_on_the_first_grid_others_are_named(tmp_path):
    from transforms.io import AFFINE_TOLERANCE_MM

    volume = np.arange(4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    paths = [str(tmp_path / f"m{i}.nii.gz") for i in range(3)]
    affines = [np.eye(4), np.eye(4), np.eye(4)]
    affines[1][0, 3] += AFFINE_TOLERANCE_MM / 2  # header rounding
    affines[2][0, 3] += 0.5  # another grid
    for path, affine, scale in zip(paths, affines, (1, 2, 3)):
        nib.save(nib.Nifti1Image(volume * scale, affine), path)
    loaded = LoadVolumed(keys="image", reader="NibabelReader")({"image": paths[:2]})["image"]
    assert loaded.shape == (2, 4, 5, 3) and loaded.meta["original_channel_dim"] == 0
    assert torch.equal(loaded.affine, torch.as_tensor(affines[0], dtype=loaded.affine.dtype))
    assert torch.equal(loaded[1], torch.as_tensor(volume * 2)) and loaded.meta["source_files"] == paths[:2]
    with pytest.raises(DatasetError, match=rf"^{paths[2]}: affine differs from {paths[0]}'s by up to 0.5"):
        LoadVolumed(keys="image", reader="NibabelReader")({"image": [paths[0], paths[2]]})
