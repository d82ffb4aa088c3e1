from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from parameterized import parameterized

from tests.conftest import SYNTHETIC_MSD
from data.errors import DatasetError
from transforms.msd_datalist import case_id_from_path, load_msd_datalist, split_by_case
from transforms.synthetic_msd import msd_task01_affine


def _broken_copy(src: Path, dst: Path) -> Path:
    """A writable copy of the session's synthetic data set."""
    shutil.copytree(src, dst)
    return dst


def _write(path: Path, array: np.ndarray) -> str:
    nib.save(nib.Nifti1Image(array, msd_task01_affine(array.shape[:3])), str(path))
    return str(path)


def test_training_section_absolute_paths_and_case_ids(synthetic_msd_dir):
    datalist = load_msd_datalist(synthetic_msd_dir)
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
    datalist = load_msd_datalist(synthetic_msd_dir.name)
    assert os.path.isabs(datalist[0]["image"]) and os.path.isfile(datalist[0]["image"])


def test_test_section_holds_images_only(synthetic_msd_dir):
    datalist = load_msd_datalist(synthetic_msd_dir, section="test")
    assert [item["case_id"] for item in datalist] == ["BRATS_485", "BRATS_486"]
    assert all(set(item) == {"image", "case_id"} and os.path.isfile(item["image"]) for item in datalist)


def test_case_id_from_path():
    assert case_id_from_path("/a/imagesTr/BRATS_001.nii.gz") == "BRATS_001"
    assert case_id_from_path("BRATS_002.nii") == "BRATS_002"


@parameterized.expand([(0.2, 0), (0.5, 3), (0.34, 11)])
def test_split_is_deterministic_disjoint_and_complete(val_fraction, seed):
    datalist = [{"image": f"/d/imagesTr/BRATS_{i:03d}.nii.gz", "case_id": f"BRATS_{i:03d}"} for i in range(1, 25)]
    train, val = split_by_case(datalist, val_fraction=val_fraction, seed=seed)
    again = split_by_case(list(reversed(datalist)), val_fraction=val_fraction, seed=seed)
    assert {d["case_id"] for d in again[1]} == {d["case_id"] for d in val}, "does not depend on list order"
    train_ids, val_ids = {d["case_id"] for d in train}, {d["case_id"] for d in val}
    assert not train_ids & val_ids and train_ids | val_ids == {d["case_id"] for d in datalist}
    assert len(val) == round(val_fraction * 24)
    assert train == [d for d in datalist if d["case_id"] in train_ids], "original order kept"
    other = split_by_case(datalist, val_fraction=val_fraction, seed=seed + 1)[1]
    assert {d["case_id"] for d in other} != val_ids, "the seed changes the split"


EXPECTED_VAL_SEED0 = ["BRATS_003", "BRATS_007"]


def test_split_fixed_across_runs():
    # SHA-256 ranking: this split must never change (no hash(), no RNG stream)
    datalist = [{"image": f"/d/BRATS_{i:03d}.nii.gz"} for i in range(1, 11)]
    _, val = split_by_case(datalist, val_fraction=0.2, seed=0)
    assert [case_id_from_path(d["image"]) for d in val] == EXPECTED_VAL_SEED0


def test_split_never_splits_a_case():
    # several items (e.g. slices) of one case always land on the same side
    datalist = [{"case_id": f"case{c}", "image": f"/d/case{c}.nii.gz", "slice": z} for c in range(7) for z in range(5)]
    for seed in range(5):
        train, val = split_by_case(datalist, val_fraction=0.3, seed=seed)
        assert not {d["case_id"] for d in train} & {d["case_id"] for d in val}
        assert len(val) == 5 * 2 and len(train) + len(val) == len(datalist)


def test_split_small_and_edge_fractions():
    two = [{"case_id": "a", "image": "a"}, {"case_id": "b", "image": "b"}]
    train, val = split_by_case(two, val_fraction=0.01)
    assert len(val) == 1 and len(train) == 1, "at least one validation case"
    assert split_by_case(two, val_fraction=0.0) == (two, [])
    assert split_by_case(two[:1], val_fraction=0.5) == (two[:1], [])
    with pytest.raises(ValueError):
        split_by_case(two, val_fraction=1.0)


# bad inputs: each must raise DatasetError naming the offending file


def test_dataset_json_missing(tmp_path):
    with pytest.raises(DatasetError, match="dataset.json not found") as err:
        load_msd_datalist(tmp_path)
    assert str(tmp_path / "dataset.json") in str(err.value)


@pytest.mark.parametrize("text, message", [("{not json", "not valid JSON"), ('{"name": "BRATS"}', "no 'training'")])
def test_dataset_json_malformed(text, message, tmp_path):
    path = tmp_path / "dataset.json"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message) as err:
        load_msd_datalist(tmp_path)
    assert str(path) in str(err.value)


def test_listed_file_missing(synthetic_msd_dir, tmp_path):
    root = _broken_copy(synthetic_msd_dir, tmp_path / "Task01")
    missing = root / "labelsTr" / "BRATS_003.nii.gz"
    missing.unlink()
    with pytest.raises(DatasetError, match="missing") as err:
        load_msd_datalist(root)
    assert str(missing) in str(err.value) and str(root / "dataset.json") in str(err.value)
    assert len(load_msd_datalist(root, check_files=False, check_headers=False)) == SYNTHETIC_MSD["num_training"]


def test_image_3d(synthetic_msd_dir, tmp_path):
    root = _broken_copy(synthetic_msd_dir, tmp_path / "Task01")
    bad = _write(root / "imagesTr" / "BRATS_002.nii.gz", np.zeros(SYNTHETIC_MSD["spatial_size"], np.float32))
    with pytest.raises(DatasetError, match="3D, expected 4D") as err:
        load_msd_datalist(root)
    assert bad in str(err.value)


def test_image_wrong_channel_count(synthetic_msd_dir, tmp_path):
    root = _broken_copy(synthetic_msd_dir, tmp_path / "Task01")
    bad = _write(root / "imagesTr" / "BRATS_004.nii.gz", np.zeros((*SYNTHETIC_MSD["spatial_size"], 3), np.float32))
    with pytest.raises(DatasetError, match="has 3 channels") as err:
        load_msd_datalist(root)
    assert bad in str(err.value)
    assert len(load_msd_datalist(root, num_channels=None)) == SYNTHETIC_MSD["num_training"]


def test_image_label_shape_mismatch(synthetic_msd_dir, tmp_path):
    root = _broken_copy(synthetic_msd_dir, tmp_path / "Task01")
    x, y, z = SYNTHETIC_MSD["spatial_size"]
    bad = _write(root / "labelsTr" / "BRATS_005.nii.gz", np.zeros((x, y, z + 1), np.uint8))
    with pytest.raises(DatasetError, match="differs from image") as err:
        load_msd_datalist(root)
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
    assert load_msd_datalist(root)[0]["image"] == str(raw)
