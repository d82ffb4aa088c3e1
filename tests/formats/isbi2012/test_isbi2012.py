from __future__ import annotations

from pathlib import Path

import itk
import nibabel as nib
import numpy as np
import pytest
import tifffile
from monai.transforms import Compose, MapLabelValued, ScaleIntensityRanged

from data.errors import DatasetError
from transforms.checks import CheckVolumed
from data.splits import split_by_group
from formats import FORMATS
from formats.isbi2012.discovery import ISBI_SPLIT, read_stack_info
from formats.isbi2012.readers import LoadTiffPaged
from formats.isbi2012.synthetic import generate_isbi2012, write_tiff_stack

PAGES, SIZE = 6, 48


@pytest.fixture(scope="module")
def isbi_dir(tmp_path_factory) -> Path:
    return generate_isbi2012(tmp_path_factory.mktemp("isbi"), num_pages=PAGES, size=SIZE, seed=0)


def load_pipeline() -> Compose:
    """The deterministic part of an ISBI bundle (see the YAML in test_pipelines_yaml.py)."""
    return Compose(
        [
            LoadTiffPaged(keys=["image", "label"]),
            CheckVolumed(image_keys="image", label_keys="label", allowed_labels=[0, 255]),
            MapLabelValued(keys="label", orig_labels=[0, 255], target_labels=[0, 1]),
            ScaleIntensityRanged(keys="image", a_min=0, a_max=255, b_min=0.0, b_max=1.0, clip=True),
        ]
    )


def test_one_item_per_page(isbi_dir):
    datalist = FORMATS.open(isbi_dir, "isbi2012").training
    assert len(datalist) == PAGES
    assert datalist[2] == {
        "image": str(isbi_dir / "train-volume.tif"), "label": str(isbi_dir / "train-labels.tif"),
        "page": 2, "case_id": "page_02",
    }  # fmt: skip
    test = FORMATS.open(isbi_dir, "isbi2012", image_file="test-volume.tif", label_file=None).test
    assert len(test) == PAGES and all("label" not in d for d in test)
    assert read_stack_info(isbi_dir / "train-volume.tif") == (PAGES, (SIZE, SIZE))
    assert FORMATS.open(isbi_dir, "isbi2012", num_pages=PAGES, page_shape=(SIZE, SIZE)).training == datalist


def test_pages_decode_alone_scaled_and_mapped(isbi_dir):
    item = FORMATS.open(isbi_dir, "isbi2012").training[3]
    data = load_pipeline()(item)
    with tifffile.TiffFile(item["image"]) as tif:
        raw = tif.pages[3].asarray()
    assert data["image"].shape == (1, SIZE, SIZE) and data["label"].shape == (1, SIZE, SIZE)
    np.testing.assert_allclose(data["image"][0].numpy(), raw / 255.0, atol=1e-6)
    assert set(data["label"].unique().tolist()) == {0.0, 1.0}
    assert data["image"].meta["filename_or_obj"] == item["image"] and data["image"].meta["page"] == 3


def test_wrong_page_count_is_named(isbi_dir, tmp_path):
    with pytest.raises(DatasetError, match=rf"train-volume.tif: {PAGES} page\(s\), expected 30"):
        FORMATS.open(isbi_dir, "isbi2012", num_pages=30).training
    stack = tifffile.imread(isbi_dir / "train-labels.tif")
    write_tiff_stack(tmp_path / "train-volume.tif", tifffile.imread(isbi_dir / "train-volume.tif"))
    write_tiff_stack(tmp_path / "train-labels.tif", stack[:-1])
    with pytest.raises(DatasetError) as err:
        FORMATS.open(tmp_path, "isbi2012").training
    assert f"{tmp_path / 'train-labels.tif'}: {PAGES - 1} page(s), but the image stack" in str(err.value)


def test_image_and_label_size_mismatch_is_named(isbi_dir, tmp_path):
    write_tiff_stack(tmp_path / "train-volume.tif", tifffile.imread(isbi_dir / "train-volume.tif"))
    write_tiff_stack(tmp_path / "train-labels.tif", tifffile.imread(isbi_dir / "train-labels.tif")[:, :40])
    with pytest.raises(DatasetError, match=r"train-labels.tif: pages of \(40, 48\), but the image stack"):
        FORMATS.open(tmp_path, "isbi2012").training
    with pytest.raises(DatasetError, match=r"pages of \(48, 48\), expected \(512, 512\)"):
        FORMATS.open(isbi_dir, "isbi2012", page_shape=(512, 512)).training


def test_unreadable_missing_and_colour_stacks_are_named(tmp_path):
    (tmp_path / "train-volume.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(DatasetError, match="train-volume.tif: cannot read as TIFF"):
        FORMATS.open(tmp_path, "isbi2012").training
    (tmp_path / "train-volume.tif").write_bytes(b"II*\x00garbage")  # a TIFF header, then nothing usable
    with pytest.raises(DatasetError, match="train-volume.tif: the TIFF holds no readable page"):
        FORMATS.open(tmp_path, "isbi2012").training
    with pytest.raises(DatasetError, match="nothere.tif: file not found"):
        FORMATS.open(tmp_path, "isbi2012", image_file="nothere.tif").training
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((2, 8, 8, 3), np.uint8), photometric="rgb")
    with pytest.raises(DatasetError, match="rgb.tif: page 0 has shape"):
        read_stack_info(tmp_path / "rgb.tif")


def test_labels_outside_0_255_and_bad_pages_are_named_when_decoded(isbi_dir, tmp_path):
    labels = tifffile.imread(isbi_dir / "train-labels.tif").copy()
    labels[1, :4, :4] = 128  # e.g. an anti-aliased or resampled label stack
    write_tiff_stack(tmp_path / "train-labels.tif", labels)
    write_tiff_stack(tmp_path / "train-volume.tif", tifffile.imread(isbi_dir / "train-volume.tif"))
    item = FORMATS.open(tmp_path, "isbi2012").training[1]
    with pytest.raises(RuntimeError) as err:
        load_pipeline()(item)
    assert str(tmp_path / "train-labels.tif") in str(err.value) and "{128}" in str(err.value)
    with pytest.raises(DatasetError, match=rf"no page 99; the stack has {PAGES} page"):
        LoadTiffPaged(keys="image")({"image": item["image"], "page": 99})


def test_stacks_in_nifti_or_mha_read_page_by_page(isbi_dir, tmp_path):
    pages = tifffile.imread(isbi_dir / "train-volume.tif")  # (pages, rows, cols)
    volume = np.moveaxis(pages, 0, -1)  # (rows, cols, pages): page k is the last-axis slice k
    nib.save(nib.Nifti1Image(volume, np.eye(4)), str(tmp_path / "stack.nii.gz"))
    itk.imwrite(itk.image_from_array(np.ascontiguousarray(pages)), str(tmp_path / "stack.mha"))
    assert read_stack_info(tmp_path / "stack.nii.gz") == (PAGES, (SIZE, SIZE))
    assert read_stack_info(tmp_path / "stack.mha") == (PAGES, (SIZE, SIZE))
    loader = LoadTiffPaged(keys="image")
    nifti_page = loader({"image": str(tmp_path / "stack.nii.gz"), "page": 4})["image"]
    np.testing.assert_array_equal(nifti_page[0].numpy(), pages[4])
    mha_page = loader({"image": str(tmp_path / "stack.mha"), "page": 4})["image"]
    np.testing.assert_array_equal(mha_page[0].numpy(), pages[4].T)  # ITK's (x, y) order: transposed, as documented


def test_split_by_page_follows_seed_002(isbi_dir):
    pages = [{"case_id": f"page_{i:02d}"} for i in range(30)]
    assert [len(p) for p in split_by_group(pages, ISBI_SPLIT)] == [20, 5, 5] and ISBI_SPLIT == (20, 5, 5)
    train, val, test = split_by_group(FORMATS.open(isbi_dir, "isbi2012").training, ISBI_SPLIT)
    assert (len(train), len(val), len(test)) == (4, 1, 1)
    assert not {d["page"] for d in train} & {d["page"] for d in val + test}
