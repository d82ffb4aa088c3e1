from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.conftest import SYNTHETIC_MSD
from data.errors import DatasetError
from data.headers import case_id_from_path
from formats import FORMATS
from formats.msd.synthetic import msd_task01_affine


def _broken_copy(src: Path, dst: Path) -> Path:
    """A writable copy of the session's synthetic data set."""
    shutil.copytree(src, dst)
    return dst


def _write(path: Path, array: np.ndarray) -> str:
    nib.save(nib.Nifti1Image(array, msd_task01_affine(array.shape[:3])), str(path))
    return str(path)


def test_training_section_absolute_paths_and_case_ids(synthetic_msd_dir):
    datalist = FORMATS.open(synthetic_msd_dir, "msd", num_channels=4).training
    assert len(datalist) == SYNTHETIC_MSD["num_training"]
    first = datalist[0]
    assert set(first) == {"image", "label", "case_id"} and first["case_id"] == "BRATS_001"
    for item in datalist:
        for key in ("image", "label"):
            assert os.path.isabs(item[key]) and os.path.isfile(item[key]) and "/./" not in item[key]
        assert Path(item["image"]).parent.name == "imagesTr" and Path(item["label"]).parent.name == "labelsTr"
        assert Path(item["image"]).name == Path(item["label"]).name == f"{item['case_id']}.nii.gz"


def test_relative_dataset_dir_gives_absolute_paths(synthetic_msd_dir, monkeypatch):
    monkeypatch.chdir(synthetic_msd_dir.parent)
    datalist = FORMATS.open(synthetic_msd_dir.name, "msd", num_channels=4).training
    assert os.path.isabs(datalist[0]["image"]) and os.path.isfile(datalist[0]["image"])


def test_test_section_holds_images_only(synthetic_msd_dir):
    datalist = FORMATS.open(synthetic_msd_dir, "msd", num_channels=4).test
    assert [item["case_id"] for item in datalist] == ["BRATS_485", "BRATS_486"]
    assert all(set(item) == {"image", "case_id"} and os.path.isfile(item["image"]) for item in datalist)


def test_case_id_from_path():
    assert case_id_from_path("/a/imagesTr/BRATS_001.nii.gz") == "BRATS_001"
    assert case_id_from_path("BRATS_002.nii") == "BRATS_002"


# bad inputs: each must raise DatasetError naming the offending file


def test_dataset_json_missing(tmp_path):
    with pytest.raises(DatasetError, match="dataset.json not found") as err:
        FORMATS.open(tmp_path, "msd", num_channels=4).training
    assert str(tmp_path / "dataset.json") in str(err.value)


@pytest.mark.parametrize("text, message", [("{not json", "not valid JSON"), ('{"name": "BRATS"}', "no 'training'")])
def test_dataset_json_malformed(text, message, tmp_path):
    path = tmp_path / "dataset.json"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message) as err:
        FORMATS.open(tmp_path, "msd", num_channels=4).training
    assert str(path) in str(err.value)


def test_listed_file_missing(synthetic_msd_dir, tmp_path):
    root = _broken_copy(synthetic_msd_dir, tmp_path / "Task01")
    missing = root / "labelsTr" / "BRATS_003.nii.gz"
    missing.unlink()
    with pytest.raises(DatasetError, match="missing") as err:
        FORMATS.open(root, "msd", num_channels=4).training
    assert str(missing) in str(err.value) and str(root / "dataset.json") in str(err.value)
    assert len(FORMATS.open(root, "msd", num_channels=4, check_files=False).training) == SYNTHETIC_MSD["num_training"]


def test_image_3d(synthetic_msd_dir, tmp_path):
    root = _broken_copy(synthetic_msd_dir, tmp_path / "Task01")
    bad = _write(root / "imagesTr" / "BRATS_002.nii.gz", np.zeros(SYNTHETIC_MSD["spatial_size"], np.float32))
    with pytest.raises(DatasetError, match="3D, expected 4D") as err:
        FORMATS.open(root, "msd", num_channels=4).training
    assert bad in str(err.value)


def test_image_wrong_channel_count(synthetic_msd_dir, tmp_path):
    root = _broken_copy(synthetic_msd_dir, tmp_path / "Task01")
    bad = _write(root / "imagesTr" / "BRATS_004.nii.gz", np.zeros((*SYNTHETIC_MSD["spatial_size"], 3), np.float32))
    with pytest.raises(DatasetError, match="has 3 channels") as err:
        FORMATS.open(root, "msd", num_channels=4).training
    assert bad in str(err.value)
    with pytest.raises(DatasetError, match="has 3 channels"):  # dataset.json declares 4 modalities
        FORMATS.open(root, "msd")
    assert len(FORMATS.open(root, "msd", check_files=False).training) == SYNTHETIC_MSD["num_training"]


def test_image_label_shape_mismatch(synthetic_msd_dir, tmp_path):
    root = _broken_copy(synthetic_msd_dir, tmp_path / "Task01")
    x, y, z = SYNTHETIC_MSD["spatial_size"]
    bad = _write(root / "labelsTr" / "BRATS_005.nii.gz", np.zeros((x, y, z + 1), np.uint8))
    with pytest.raises(DatasetError, match="differs from image") as err:
        FORMATS.open(root, "msd", num_channels=4).training
    assert bad in str(err.value) and str(root / "imagesTr" / "BRATS_005.nii.gz") in str(err.value)


def test_header_check_does_not_decode_voxels(synthetic_msd_dir, tmp_path):
    # a file whose voxel data are truncated still passes: only the header is read
    root = _broken_copy(synthetic_msd_dir, tmp_path / "Task01")
    path = root / "imagesTr" / "BRATS_001.nii.gz"
    img = nib.load(path)
    raw = root / "imagesTr" / "BRATS_001.nii"
    nib.save(img, str(raw))
    raw.write_bytes(raw.read_bytes()[:1000])
    meta = json.loads((root / "dataset.json").read_text())
    meta["training"][0]["image"] = "./imagesTr/BRATS_001.nii"
    (root / "dataset.json").write_text(json.dumps(meta))
    assert FORMATS.open(root, "msd", num_channels=4).training[0]["image"] == str(raw)
