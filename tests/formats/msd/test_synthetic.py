from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged
from parameterized import parameterized

from tests.conftest import SYNTHETIC_MSD
from tests.formats.training_check import assert_learns
from formats import FORMATS
from formats.msd.synthetic import (
    MSD_TASK01_LABELS,
    MSD_TASK01_MODALITIES,
    generate_msd_task01,
    msd_task01_affine,
    synthesize_brain_tumour_case,
)

ROOT = Path(__file__).resolve().parents[3]
MSD_KEYS = {
    "name", "description", "reference", "licence", "release", "tensorImageSize",
    "modality", "labels", "numTraining", "numTest", "training", "test",
}  # fmt: skip
FLAIR, T1W, T1GD, T2W = range(4)


def _meta(root: Path) -> dict:
    return json.loads((root / "dataset.json").read_text())


def test_layout_and_dataset_json_as_in_msd(synthetic_msd_dir):
    meta = _meta(synthetic_msd_dir)
    assert set(meta) == MSD_KEYS
    assert meta["name"] == "BRATS" and meta["tensorImageSize"] == "4D"
    assert meta["modality"] == {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"} == MSD_TASK01_MODALITIES
    assert meta["labels"] == {"0": "background", "1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"}
    assert meta["labels"] == MSD_TASK01_LABELS
    assert meta["numTraining"] == len(meta["training"]) == SYNTHETIC_MSD["num_training"]
    assert meta["numTest"] == len(meta["test"]) == SYNTHETIC_MSD["num_test"]
    assert meta["training"][0] == {"image": "./imagesTr/BRATS_001.nii.gz", "label": "./labelsTr/BRATS_001.nii.gz"}
    assert meta["test"] == ["./imagesTs/BRATS_485.nii.gz", "./imagesTs/BRATS_486.nii.gz"]
    for entry in meta["training"]:
        assert (synthetic_msd_dir / entry["image"]).is_file() and (synthetic_msd_dir / entry["label"]).is_file()
    for entry in meta["test"]:
        assert isinstance(entry, str) and (synthetic_msd_dir / entry).is_file()


def test_volumes_dtypes_labels_and_geometry(synthetic_msd_dir):
    size = SYNTHETIC_MSD["spatial_size"]
    expected_affine = msd_task01_affine(size)
    assert nib.aff2axcodes(expected_affine) == ("L", "P", "S") and np.abs(expected_affine[:3, 3]).max() > 1
    for entry in _meta(synthetic_msd_dir)["training"]:
        image = nib.load(synthetic_msd_dir / entry["image"])
        label = nib.load(synthetic_msd_dir / entry["label"])
        assert image.shape == (*size, 4) and image.get_data_dtype() == np.float32
        assert label.shape == size and label.get_data_dtype() == np.uint8
        np.testing.assert_array_equal(image.affine, label.affine)
        np.testing.assert_allclose(image.affine, expected_affine)
        for img in (image, label):
            assert int(img.header["qform_code"]) == int(img.header["sform_code"]) == 1
            assert img.header.get_zooms()[:3] == (1.0, 1.0, 1.0)
        values = set(np.unique(np.asarray(label.dataobj)).tolist())
        assert values == {0, 1, 2, 3}, f"{entry['label']}: {values}"
        data = np.asarray(image.dataobj)
        assert np.isfinite(data).all() and data.min() >= 0
    test_image = nib.load(synthetic_msd_dir / _meta(synthetic_msd_dir)["test"][0])
    assert test_image.shape == (*size, 4) and test_image.get_data_dtype() == np.float32


@parameterized.expand([((64, 64, 32), 1), ((48, 40, 20), 2), ((33, 35, 9), 3)])
def test_brain_background_and_contrast(spatial_size, number):
    case = synthesize_brain_tumour_case(spatial_size, seed=(0, number))
    image, label, brain = case
    assert image.shape == (*spatial_size, 4) and image.dtype == np.float32
    assert label.shape == spatial_size and label.dtype == np.uint8 and brain.dtype == bool
    # skull-stripped: exactly 0 outside the brain, non-zero in every channel inside
    assert (image[~brain] == 0).all() and (label[~brain] == 0).all()
    assert (image[brain] > 0).all()
    assert set(np.unique(label).tolist()) == {0, 1, 2, 3}
    normal = brain & (label == 0)
    mean = {k: image[label == k].mean(axis=0) for k in (1, 2, 3)}
    assert mean[1][FLAIR] > 1.3 * image[normal][:, FLAIR].mean(), "edema bright in FLAIR"
    assert mean[1][T2W] > 1.2 * image[normal][:, T2W].mean(), "edema bright in T2"
    assert mean[3][T1GD] > 1.3 * image[normal][:, T1GD].mean(), "enhancing rim bright in t1gd"
    contrast = mean[3] / image[normal].mean(axis=0)  # modalities have their own scales: compare to normal brain
    assert contrast[T1GD] > 1.5 * contrast[T1W], "the rim enhances: brighter after gadolinium than before"


def test_tumour_is_large_enough_to_learn():
    for number in range(1, 6):
        _, label, brain = synthesize_brain_tumour_case((64, 64, 32), seed=(0, number))
        tumour = label > 0
        tumour_slices = tumour.any(axis=(0, 1))
        brain_slices = brain.any(axis=(0, 1))
        assert tumour_slices.sum() >= 0.25 * brain_slices.sum(), f"case {number}: tumour in too few slices"
        share = tumour.sum(axis=(0, 1))[tumour_slices] / brain.sum(axis=(0, 1))[tumour_slices]
        assert share.max() >= 0.08, f"case {number}: tumour covers at most {share.max():.2f} of a brain slice"
        assert tumour.sum() <= 0.5 * brain.sum()


def test_deterministic_from_seed(tmp_path):
    first = synthesize_brain_tumour_case((24, 26, 8), seed=(3, 1))
    again = synthesize_brain_tumour_case((24, 26, 8), seed=(3, 1))
    other = synthesize_brain_tumour_case((24, 26, 8), seed=(4, 1))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.image, other.image) and not np.array_equal(first.label, other.label)

    kwargs = {"num_training": 2, "num_test": 1, "spatial_size": (24, 24, 8), "seed": 5}
    one = generate_msd_task01(tmp_path / "one", **kwargs)
    two = generate_msd_task01(tmp_path / "two", **kwargs)
    three = generate_msd_task01(tmp_path / "three", **{**kwargs, "seed": 6})
    for name in ("imagesTr/BRATS_001.nii.gz", "labelsTr/BRATS_002.nii.gz", "imagesTs/BRATS_485.nii.gz"):
        a, b, c = (np.asarray(nib.load(root / name).dataobj) for root in (one, two, three))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    # a case does not depend on how many others are written
    np.testing.assert_array_equal(
        np.asarray(nib.load(one / "imagesTr/BRATS_001.nii.gz").dataobj),
        synthesize_brain_tumour_case((24, 24, 8), seed=(5, 1)).image,
    )


def test_round_trip_through_monai_readers(synthetic_msd_dir):
    entry = _meta(synthetic_msd_dir)["training"][0]
    files = {key: str(synthetic_msd_dir / entry[key]) for key in ("image", "label")}
    data = Compose([LoadImaged(keys=["image", "label"]), EnsureChannelFirstd(keys=["image", "label"])])(files)
    size = SYNTHETIC_MSD["spatial_size"]
    assert tuple(data["image"].shape) == (4, *size) and tuple(data["label"].shape) == (1, *size)
    source = nib.load(files["image"])
    np.testing.assert_allclose(data["image"].affine.numpy(), source.affine)
    np.testing.assert_allclose(data["label"].affine.numpy(), source.affine)
    np.testing.assert_array_equal(data["image"].numpy(), np.moveaxis(np.asarray(source.dataobj), -1, 0))
    assert set(np.unique(data["label"].numpy()).tolist()) == {0.0, 1.0, 2.0, 3.0}


def test_existing_data_set_is_kept_unless_overwrite(tmp_path):
    root = generate_msd_task01(tmp_path / "d", num_training=1, num_test=0, spatial_size=(16, 16, 6))
    with pytest.raises(FileExistsError, match="dataset.json"):
        generate_msd_task01(root, num_training=2, num_test=0, spatial_size=(16, 16, 6))
    generate_msd_task01(root, num_training=2, num_test=0, spatial_size=(16, 16, 6), overwrite=True)
    assert _meta(root)["numTraining"] == 2 and _meta(root)["test"] == []


def test_script_writes_then_skips(tmp_path):
    out = tmp_path / "Task01_BrainTumour"
    cmd = [sys.executable, str(ROOT / "scripts/make_synthetic.py"), "msd", "--out", str(out)]
    cmd += ["--num_training", "2", "--num_test", "1", "--spatial_size", "16", "16", "6", "--seed", "1"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    assert f"wrote the msd synthetic data set to {out} (num_training 2, num_test 1," in first.stdout
    assert _meta(out)["numTest"] == 1 and (out / "imagesTs/BRATS_485.nii.gz").is_file()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    assert "skipped" in second.stdout


def test_real_msd_size_one_case(tmp_path):
    start = time.perf_counter()
    root = generate_msd_task01(tmp_path / "big", num_training=1, num_test=0, spatial_size=(240, 240, 155))
    elapsed = time.perf_counter() - start
    image = nib.load(root / "imagesTr/BRATS_001.nii.gz")
    label = nib.load(root / "labelsTr/BRATS_001.nii.gz")
    assert image.shape == (240, 240, 155, 4) and label.shape == (240, 240, 155)
    assert set(np.unique(np.asarray(label.dataobj)).tolist()) == {0, 1, 2, 3}
    assert elapsed < 30, f"one 240x240x155 case took {elapsed:.1f} s"


@pytest.mark.parametrize("spatial_size, roi", [((48, 48, 20), 32), ((40, 36, 16), 32)])
def test_a_tiny_unet_learns_the_tumour(tmp_path, spatial_size, roi):
    """The bundle's own volume pipeline (bundles/unet train.yaml's data block, labels collapsed to tumour / not), then a tiny U-Net on
    the axial slices that hold tumour: the loss falls well below that of the best constant prediction."""
    root = generate_msd_task01(tmp_path / "msd", num_training=3, num_test=0, spatial_size=spatial_size, seed=0)
    parser = ConfigParser()
    parser.read_config(ROOT / "bundles/unet/configs/train.yaml")
    parser.update({"roi_size": [roi, roi]})
    pipeline = Compose(parser.get_parsed_content("data#volume_transforms"))
    images, labels = [], []
    for item in FORMATS.open(root, "msd", num_channels=4).training:
        data = pipeline(item)
        for z in torch.nonzero((data["label"] > 0).sum(dim=(0, 1, 2)) > 0).flatten()[::2]:
            images.append(data["image"][..., z].as_tensor())
            labels.append(data["label"][..., z].as_tensor())
    assert len(images) >= 8
    assert_learns(torch.stack(images).float(), torch.stack(labels), num_classes=2)
