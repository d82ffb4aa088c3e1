"""NiftiReader: the stock NibabelReader's values and metadata, inflated by ISA-L and channel-first contiguous."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.transforms import EnsureChannelFirstd, LoadImaged

import data.nifti_reader as nifti_reader
from data.errors import DatasetError
from data.nifti_reader import NiftiReader, channel_first_contiguous
from formats.msd.synthetic import msd_task01_affine
from transforms.io import LoadVolumed

META_KEYS = ("spatial_shape", "pixdim", "original_affine", "affine", "space", "filename_or_obj", "dim")


def _write(path, shape):
    array = np.random.default_rng(len(shape)).normal(size=shape).astype(np.float32)
    nib.save(nib.Nifti1Image(array, msd_task01_affine((*shape, 1)[:3])), str(path))
    return str(path)


def _stock_and_ours(files):
    stock = EnsureChannelFirstd("image")(LoadImaged("image", reader="NibabelReader")({"image": files}))["image"]
    ours = EnsureChannelFirstd("image")(LoadVolumed("image")({"image": files}))["image"]
    return stock, ours


@pytest.mark.parametrize(
    "name, shape",
    [("4d.nii.gz", (9, 11, 5, 4)), ("3d.nii.gz", (9, 11, 5)), ("4d.nii", (9, 11, 5, 3)), ("2d.nii.gz", (9, 11))],
)
def test_same_volume_and_metadata_as_the_stock_reader(tmp_path, name, shape):
    stock, ours = _stock_and_ours(_write(tmp_path / name, shape))
    assert ours.shape == stock.shape and torch.equal(ours.as_tensor(), stock.as_tensor())
    for key in META_KEYS:
        np.testing.assert_array_equal(np.asarray(ours.meta[key]), np.asarray(stock.meta[key]), err_msg=key)
    if len(shape) == 4:  # each channel one contiguous block
        assert ours.is_contiguous() and not stock.is_contiguous()


def test_modalities_in_separate_files_stack_as_the_stock_reader_does(tmp_path):
    files = [_write(tmp_path / f"m{i}.nii.gz", (6, 7, 4)) for i in range(3)]
    stock, ours = _stock_and_ours(files)
    assert ours.shape == (3, 6, 7, 4) and torch.equal(ours.as_tensor(), stock.as_tensor())


def test_gz_is_inflated_by_isal_and_every_file_is_closed(tmp_path, monkeypatch):
    pytest.importorskip("isal")
    opened = []
    real_open = nifti_reader.fast_gzip.open

    def recording_open(*args, **kwargs):
        opened.append(real_open(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(nifti_reader.fast_gzip, "open", recording_open)
    reader = NiftiReader()
    path = _write(tmp_path / "a.nii.gz", (5, 6, 4, 2))
    data, meta = reader.get_data(reader.read(path))
    assert len(opened) == 1 and opened[0].closed and data.shape == (2, 5, 6, 4) and meta["original_channel_dim"] == 0
    np.testing.assert_array_equal(data, np.moveaxis(np.asanyarray(nib.load(path).dataobj), -1, 0))
    # one reader, reads interleaved (threads of a cache dataset): each image keeps its own open file
    other = _write(tmp_path / "b.nii.gz", (5, 6, 4, 2))
    first, second = reader.read(path), reader.read(other)
    assert not opened[1].closed and not opened[2].closed
    expected = np.moveaxis(np.asanyarray(nib.load(other).dataobj), -1, 0)
    np.testing.assert_array_equal(reader.get_data(second)[0], expected)
    np.testing.assert_array_equal(reader.get_data(first)[0], data)
    assert opened[1].closed and opened[2].closed


def test_without_isal_nibabel_reads_the_file(tmp_path, monkeypatch):
    path = _write(tmp_path / "a.nii.gz", (5, 6, 4, 2))
    with_isal = LoadVolumed("image")({"image": path})["image"]
    monkeypatch.setattr(nifti_reader, "fast_gzip", None)
    without = LoadVolumed("image")({"image": path})["image"]
    assert torch.equal(with_isal.as_tensor(), without.as_tensor())


@pytest.mark.parametrize("cut", [200, -5000])  # inside the header; inside the voxels
def test_truncated_gz_is_an_error_naming_the_file(tmp_path, cut):
    path = _write(tmp_path / "cut.nii.gz", (20, 20, 10, 2))
    raw = open(path, "rb").read()
    assert len(raw) > 6000
    with open(path, "wb") as f:
        f.write(raw[:cut])
    with pytest.raises(DatasetError, match="cannot read the volume") as err:
        LoadVolumed("image")({"image": path})
    assert str(err.value).startswith(path) and isinstance(err.value.__cause__, (EOFError, gzip.BadGzipFile, OSError))


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.uint8, ">f4"])  # ">f4": big-endian, NumPy's copy
def test_channel_first_contiguous_copies_any_dtype(dtype):
    data = np.asfortranarray(np.arange(3 * 4 * 5 * 2).reshape(3, 4, 5, 2).astype(dtype))
    out = channel_first_contiguous(data)
    assert out.flags["C_CONTIGUOUS"] and out.shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(out, np.moveaxis(data, -1, 0))


def test_reader_arguments_of_load_volumed_reach_the_nifti_reader(tmp_path):
    """A NibabelReader argument given to LoadVolumed (here `as_closest_canonical`) is the NIfTI reader's too."""
    path = str(tmp_path / "lps.nii.gz")
    nib.save(nib.Nifti1Image(np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.diag([-1.0, -1.0, 1.0, 1.0])), path)
    stock = LoadImaged("image", reader="NibabelReader", as_closest_canonical=True)({"image": path})["image"]
    ours = LoadVolumed("image", as_closest_canonical=True, allow_missing_keys=True)({"image": path})["image"]
    assert torch.equal(ours.as_tensor(), stock.as_tensor()) and np.allclose(ours.affine, stock.affine)
    assert not torch.equal(ours.as_tensor(), LoadVolumed("image")({"image": path})["image"].as_tensor())
