from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from monai.transforms import Compose, EnsureChannelFirstd, Resized, ScaleIntensityd
from scipy.io import savemat

from data.errors import DatasetError
from transforms.checks import CheckVolumed
from data.splits import split_by_group
from formats import FORMATS
from formats.figshare.discovery import FIGSHARE_SPLIT
from formats.figshare.readers import MatV73Reader, decode_matlab_char, read_figshare_mat, read_mat_field
from transforms.io import LoadVolumed
from formats.figshare.synthetic import generate_figshare, write_figshare_mat


@pytest.fixture(scope="module")
def figshare_dir(tmp_path_factory) -> Path:
    return generate_figshare(tmp_path_factory.mktemp("figshare"), 12, 4, size=64, seed=0, files_per_folder=5)


@pytest.fixture()
def figshare_copy(figshare_dir, tmp_path) -> Path:
    return Path(shutil.copytree(figshare_dir, tmp_path / "copy"))


def load_pipeline(size=(32, 32)) -> Compose:
    """The deterministic part of a Figshare bundle (see the YAML in test_pipelines_yaml.py)."""
    return Compose(
        [
            LoadVolumed(keys="image", reader=MatV73Reader(field="cjdata/image")),
            LoadVolumed(keys="label", reader=MatV73Reader(field="cjdata/tumorMask")),
            EnsureChannelFirstd(keys=["image", "label"]),
            CheckVolumed(image_keys="image", label_keys="label", allowed_labels=[0, 1]),
            ScaleIntensityd(keys="image"),
            Resized(keys=["image", "label"], spatial_size=size, mode=["area", "nearest"]),
        ]
    )


def _file(root: Path, number: int) -> Path:
    return next(root.rglob(f"{number}.mat"))


def test_datalist_numbered_recursive_with_patient_ids(figshare_dir):
    datalist = FORMATS.open(figshare_dir, "figshare").training
    assert [d["case_id"] for d in datalist] == [str(i) for i in range(1, 13)]  # 1, 2, ..., 10, not 1, 10, 11
    assert sorted({Path(d["image"]).parent.name for d in datalist}) == [
        "brainTumorDataPublic_1-5", "brainTumorDataPublic_11-12", "brainTumorDataPublic_6-10",
    ]  # fmt: skip
    first = datalist[0]
    assert set(first) == {"image", "label", "case_id", "patient_id", "tumour_class"}
    assert first["image"] == first["label"] and len(first["patient_id"]) == 6 and first["tumour_class"] in (1, 2, 3)
    assert len({d["patient_id"] for d in datalist}) == 4


def test_split_keeps_each_patient_on_one_side(figshare_dir):
    parts = split_by_group(FORMATS.open(figshare_dir, "figshare").training, FIGSHARE_SPLIT, group_key="patient_id")
    patients = [{d["patient_id"] for d in part} for part in parts]
    assert all(patients) and not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    assert FIGSHARE_SPLIT == (2800, 200, 64)


def test_reader_undoes_matlab_transposition(tmp_path):
    image = np.arange(20 * 30, dtype=np.int16).reshape(20, 30)
    mask = np.zeros((20, 30), np.uint8)
    mask[2:5, 10:20] = 1
    path = write_figshare_mat(tmp_path / "1.mat", image, mask, 2, "MR0421", np.array([11.0, 3.0, 20.0, 5.0]))
    with h5py.File(path) as f:
        assert f["cjdata/image"].shape == (30, 20) and f["cjdata/PID"].dtype == np.uint16
    record = read_figshare_mat(path)
    np.testing.assert_array_equal(record.image, image)
    np.testing.assert_array_equal(record.mask, mask)
    assert (record.label, record.pid) == (2, "MR0421")
    np.testing.assert_array_equal(record.border.ravel(), [11.0, 3.0, 20.0, 5.0])
    data = load_pipeline(size=(20, 30))({"image": str(path), "label": str(path)})
    np.testing.assert_array_equal(data["label"][0].numpy(), mask)
    assert data["image"].meta["filename_or_obj"] == str(path)


def test_pipeline_resizes_to_binary_masks(figshare_dir):
    data = load_pipeline(size=(32, 32))(FORMATS.open(figshare_dir, "figshare").training[0])
    assert data["image"].shape == (1, 32, 32) and data["label"].shape == (1, 32, 32)
    assert set(data["label"].unique().tolist()) == {0.0, 1.0}
    assert float(data["image"].min()) >= 0.0 and float(data["image"].max()) <= 1.0


def test_older_mat_files_read_through_scipy(tmp_path):
    image = np.arange(12 * 16, dtype=np.int16).reshape(12, 16)
    mask = (image % 7 == 0).astype(np.uint8)
    cjdata = {"label": 3.0, "PID": "112233", "image": image, "tumorBorder": np.array([[1.0, 2.0]]), "tumorMask": mask}
    savemat(tmp_path / "5.mat", {"cjdata": cjdata})
    record = read_figshare_mat(tmp_path / "5.mat")
    np.testing.assert_array_equal(record.image, image)
    np.testing.assert_array_equal(record.mask, mask)
    assert (record.label, record.pid) == (3, "112233")
    assert FORMATS.open(tmp_path, "figshare").training[0]["patient_id"] == "112233"
    np.testing.assert_array_equal(MatV73Reader(field="cjdata/tumorMask", dtype=None).read(tmp_path / "5.mat"), mask)


def test_unreadable_mat_is_named(figshare_copy):
    bad = _file(figshare_copy, 3)
    bad.write_bytes(b"MATLAB 7.3 MAT-file, truncated")
    with pytest.raises(DatasetError) as err:
        FORMATS.open(figshare_copy, "figshare").training
    assert "1 error(s)" in str(err.value) and f"{bad}: cannot read as a MATLAB MAT-file" in str(err.value)
    with pytest.raises(DatasetError, match="3.mat: cannot read"):
        read_figshare_mat(bad)
    item = {"image": str(bad), "label": str(bad)}
    with pytest.raises(RuntimeError) as err:
        load_pipeline()(item)
    assert str(bad) in str(err.value)


def test_missing_field_wrong_label_and_shape_mismatch_are_named(figshare_copy):
    no_mask, bad_label, bad_shape = _file(figshare_copy, 1), _file(figshare_copy, 2), _file(figshare_copy, 7)
    with h5py.File(no_mask, "r+") as f:
        del f["cjdata/tumorMask"]
    with h5py.File(bad_label, "r+") as f:
        f["cjdata/label"][...] = 4.0
    with h5py.File(bad_shape, "r+") as f:
        del f["cjdata/tumorMask"]
        f["cjdata"].create_dataset("tumorMask", data=np.zeros((32, 64), np.uint8))
    with pytest.raises(DatasetError) as err:
        FORMATS.open(figshare_copy, "figshare").training
    message = str(err.value)
    assert "3 error(s)" in message
    assert f"{no_mask}: no cjdata.tumorMask" in message
    assert f"{bad_label}: cjdata.label is [4.0], expected one of [1, 2, 3]" in message
    assert f"{bad_shape}: cjdata.tumorMask has shape (64, 32), cjdata.image (64, 64)" in message
    with pytest.raises(DatasetError, match="1.mat: no 'cjdata/tumorMask'"):
        read_mat_field(no_mask, "cjdata/tumorMask")


def test_mask_values_outside_0_1_are_named(figshare_copy):
    path = _file(figshare_copy, 4)
    with h5py.File(path, "r+") as f:
        mask = f["cjdata/tumorMask"][()]
        mask[0, 0] = 2
        f["cjdata/tumorMask"][...] = mask
    with pytest.raises(DatasetError, match=r"4.mat: cjdata.tumorMask holds \[0, 1, 2\]"):
        read_figshare_mat(path)
    with pytest.raises(RuntimeError) as err:
        load_pipeline()({"image": str(path), "label": str(path)})
    assert str(path) in str(err.value) and "outside the allowed labels [0, 1]" in str(err.value)


def test_empty_folder_and_helpers(tmp_path):
    with pytest.raises(DatasetError, match="no .mat file"):
        FORMATS.open(tmp_path, "figshare").training
    assert decode_matlab_char(np.array([[49], [48], [48]], dtype=np.uint16)) == "100"
    assert MatV73Reader().verify_suffix("a/1.mat") and not MatV73Reader().verify_suffix("a/1.png")
