from __future__ import annotations

import shutil
from pathlib import Path

import itk
import nibabel as nib
import numpy as np
import pytest
import torch
from monai.transforms import Compose, EnsureChannelFirstd, MapLabelValued, ScaleIntensityRanged
from PIL import Image

from data.errors import DatasetError
from transforms.checks import CheckVolumed
from transforms.io import LoadVolumed
from data.splits import split_by_group
from formats import FORMATS
from formats.png_pairs.readers import ToGrayscaled
from formats.png_pairs.synthetic import generate_png_pairs

SIZE = 48


@pytest.fixture(scope="module")
def liver_dir(tmp_path_factory) -> Path:
    return generate_png_pairs(tmp_path_factory.mktemp("liver"), "liver", num_images=6, size=SIZE, seed=0)


@pytest.fixture()
def liver_copy(liver_dir, tmp_path) -> Path:
    return Path(shutil.copytree(liver_dir, tmp_path / "copy"))


def load_pipeline() -> Compose:
    """The deterministic part of a PNG-pairs bundle (see the YAML in test_pipelines_yaml.py)."""
    return Compose(
        [
            LoadVolumed(keys=["image", "label"]),
            EnsureChannelFirstd(keys=["image", "label"]),
            ToGrayscaled(keys=["image", "label"], mode=["luma", "max"]),
            CheckVolumed(image_keys="image", label_keys="label", allowed_labels=[0, 255]),
            MapLabelValued(keys="label", orig_labels=[0, 255], target_labels=[0, 1]),
            ScaleIntensityRanged(keys="image", a_min=0, a_max=255, b_min=0.0, b_max=1.0, clip=True),
        ]
    )


def test_pairs_matched_by_name(liver_dir):
    datalist = FORMATS.open(liver_dir, "png_pairs").training
    assert [d["case_id"] for d in datalist] == [f"{i:03d}" for i in range(6)]
    assert datalist[0] == {
        "image": str(liver_dir / "images" / "000.png"), "label": str(liver_dir / "masks" / "000.png"), "case_id": "000",
    }  # fmt: skip
    data = load_pipeline()(datalist[0])
    assert data["image"].shape == (1, SIZE, SIZE) and set(data["label"].unique().tolist()) == {0.0, 1.0}
    raw = np.asarray(Image.open(datalist[0]["label"]))
    np.testing.assert_array_equal(data["label"][0].numpy(), raw.T / 255)  # MONAI's PILReader: (width, height)


def test_one_folder_with_mask_suffix(tmp_path):
    root = generate_png_pairs(tmp_path, "liver", 3, 32, images_dir="train", masks_dir="train", mask_suffix="_mask")
    datalist = FORMATS.open(root, "png_pairs", images_subdir="train", mask_suffix="_mask", masks_subdir="train").training
    assert [(Path(d["image"]).name, Path(d["label"]).name) for d in datalist] == [
        ("000.png", "000_mask.png"), ("001.png", "001_mask.png"), ("002.png", "002_mask.png"),
    ]  # fmt: skip
    with pytest.raises(DatasetError, match="need a mask_suffix"):
        FORMATS.open(root, "png_pairs", images_subdir="train", masks_subdir="train").training


def test_unmatched_names_are_listed(liver_copy):
    (liver_copy / "masks" / "002.png").rename(liver_copy / "masks" / "002_seg.png")
    (liver_copy / "masks" / "004.png").unlink()
    shutil.copy(liver_copy / "images" / "000.png", liver_copy / "images" / "extra scan.png")
    with pytest.raises(DatasetError) as err:
        FORMATS.open(liver_copy, "png_pairs").training
    message = str(err.value)
    for name in ("002.png", "004.png", "extra scan.png"):  # every unmatched file is one error naming it
        assert f"{liver_copy / 'images' / name}: image without a mask" in message
    assert f"{liver_copy / 'masks' / '002_seg.png'}: mask without an image" in message
    assert "4 error(s)" in message


def test_size_mismatch_duplicates_and_missing_folders_are_named(liver_copy):
    small = liver_copy / "masks" / "001.png"
    Image.fromarray(np.zeros((SIZE, SIZE - 8), np.uint8)).save(small)
    with pytest.raises(DatasetError) as err:
        FORMATS.open(liver_copy, "png_pairs").training
    assert f"{small}: mask of {SIZE - 8} x {SIZE} pixels, its image" in str(err.value)
    small.unlink()
    shutil.copy(liver_copy / "masks" / "000.png", liver_copy / "masks" / "001.png")
    Image.open(liver_copy / "images" / "000.png").save(liver_copy / "images" / "000.bmp")
    with pytest.raises(DatasetError, match="several files for one name: 000.bmp and 000.png"):
        FORMATS.open(liver_copy, "png_pairs").training
    with pytest.raises(DatasetError, match="not a folder"):
        FORMATS.open(liver_copy, "png_pairs", images_subdir="nothere").training


def test_mask_values_outside_0_255_are_named(liver_copy):
    mask_path = liver_copy / "masks" / "003.png"
    mask = np.asarray(Image.open(mask_path)).copy()
    mask[0, :5] = 128  # anti-aliased edge
    Image.fromarray(mask).save(mask_path)
    item = FORMATS.open(liver_copy, "png_pairs").training[3]
    with pytest.raises(RuntimeError) as err:
        load_pipeline()(item)
    assert str(mask_path) in str(err.value) and "{128}" in str(err.value)


def test_rgb_pairs_reduce_to_one_channel(liver_copy):
    grey = load_pipeline()(FORMATS.open(liver_copy, "png_pairs").training[2])
    for folder in ("images", "masks"):
        path = liver_copy / folder / "002.png"
        Image.open(path).convert("RGB").save(path)
    colour = load_pipeline()(FORMATS.open(liver_copy, "png_pairs").training[2])
    torch.testing.assert_close(colour["image"].as_tensor(), grey["image"].as_tensor(), atol=1e-3, rtol=0)
    torch.testing.assert_close(colour["label"].as_tensor(), grey["label"].as_tensor())
    with pytest.raises(DatasetError, match="5 channels"):
        ToGrayscaled(keys="image")({"image": torch.zeros(5, 4, 4)})
    with pytest.raises(ValueError, match="mode"):
        ToGrayscaled(keys="image", mode="hsv")


def test_nifti_images_and_mha_masks_are_read_too(liver_dir, tmp_path):
    """Pairs sent in other formats: NIfTI through nibabel, MHA through ITK, matched by name all the same."""
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for i in range(2):
        image = np.asarray(Image.open(liver_dir / "images" / f"{i:03d}.png"))
        mask = np.asarray(Image.open(liver_dir / "masks" / f"{i:03d}.png"))
        nib.save(nib.Nifti1Image(image.T.copy(), np.eye(4)), str(tmp_path / "images" / f"{i:03d}.nii.gz"))
        itk.imwrite(itk.image_from_array(mask), str(tmp_path / "masks" / f"{i:03d}.mha"))
    datalist = FORMATS.open(tmp_path, "png_pairs").training
    assert [Path(d["label"]).suffix for d in datalist] == [".mha", ".mha"]
    reference = load_pipeline()(FORMATS.open(liver_dir, "png_pairs").training[1])
    data = load_pipeline()(datalist[1])
    torch.testing.assert_close(data["image"].as_tensor(), reference["image"].as_tensor())
    torch.testing.assert_close(data["label"].as_tensor(), reference["label"].as_tensor())


def test_split(liver_dir):
    parts = split_by_group(FORMATS.open(liver_dir, "png_pairs").training, (0.8, 0.1, 0.1))
    assert [len(p) for p in parts] == [4, 1, 1]
