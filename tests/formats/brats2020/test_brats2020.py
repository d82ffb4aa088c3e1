from __future__ import annotations

import shutil
from pathlib import Path

import itk
import nibabel as nib
import numpy as np
import pytest
import torch
from monai.transforms import (
    Compose,
    EnsureChannelFirstd,
    LoadImage,
    LoadImaged,
    MapLabelValued,
    NormalizeIntensityd,
    Resized,
)

from data.splits import split_by_group
from formats import FORMATS
from formats.brats2020.discovery import BRATS_DEFAULT_MODALITIES, BRATS_SPLIT, find_brats_case_files
from formats.brats2020.readers import KeepSlicesd
from data.errors import DatasetError
from transforms.checks import CheckVolumed
from transforms.io import LoadVolumed
from formats.brats2020.synthetic import generate_brats2020

SIZE = (24, 24, 12)


@pytest.fixture(scope="module")
def brats_dir(tmp_path_factory) -> Path:
    return generate_brats2020(tmp_path_factory.mktemp("brats") / "MICCAI_BraTS2020_TrainingData", 4, SIZE, seed=0)


@pytest.fixture()
def brats_copy(brats_dir, tmp_path) -> Path:
    return Path(shutil.copytree(brats_dir, tmp_path / "copy"))


def volume_pipeline(size=(32, 32, -1)) -> Compose:
    """The deterministic volume part of a BraTS bundle (see the YAML in test_pipelines_yaml.py)."""
    return Compose(
        [
            LoadVolumed(keys=["image", "label"]),
            EnsureChannelFirstd(keys=["image", "label"]),
            CheckVolumed(image_keys="image", label_keys="label", allowed_labels=[0, 1, 2, 4]),
            MapLabelValued(keys="label", orig_labels=[0, 1, 2, 4], target_labels=[0, 1, 2, 3]),
            KeepSlicesd(keys=["image", "label"], axis=2, start=5, stop=150),
            Resized(keys=["image", "label"], spatial_size=size, mode=["area", "nearest"]),
            NormalizeIntensityd(keys="image", nonzero=True, channel_wise=True),
        ]
    )


def test_datalist_lists_case_folders_with_modalities_as_channels(brats_dir):
    datalist = FORMATS.open(brats_dir, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training
    assert BRATS_DEFAULT_MODALITIES == ("flair", "t1ce")
    assert [d["case_id"] for d in datalist] == [f"BraTS20_Training_{i:03d}" for i in range(1, 5)]
    first = datalist[0]
    assert set(first) == {"image", "label", "case_id"}
    names = [Path(p).name for p in first["image"]]
    assert names == ["BraTS20_Training_001_flair.nii.gz", "BraTS20_Training_001_t1ce.nii.gz"]
    assert Path(first["label"]).name == "BraTS20_Training_001_seg.nii.gz"
    four = FORMATS.open(brats_dir, "brats2020", modalities=("t2", "t1", "flair", "t1ce")).training
    ends = [Path(p).name.split("_")[-1] for p in four[0]["image"]]
    assert ends == ["t2.nii.gz", "t1.nii.gz", "flair.nii.gz", "t1ce.nii.gz"]
    with pytest.raises(ValueError, match="subset"):
        FORMATS.open(brats_dir, "brats2020", modalities=("dwi",)).training


def test_pipeline_gives_two_channel_slices_with_labels_0_to_3(brats_dir):
    data = volume_pipeline()(FORMATS.open(brats_dir, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training[0])
    assert tuple(data["image"].shape) == (2, 32, 32, SIZE[2] - 5)  # slices 5.. clipped to the 12 there are
    assert tuple(data["label"].shape) == (1, 32, 32, SIZE[2] - 5)
    assert set(data["label"].unique().tolist()) <= {0.0, 1.0, 2.0, 3.0} and 3.0 in data["label"].unique()
    raw = nib.load(FORMATS.open(brats_dir, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training[0]["label"]).get_fdata()
    assert set(np.unique(raw).tolist()) == {0, 1, 2, 4}


def test_unlabelled_release_and_other_files_are_handled(brats_copy):
    (brats_copy / "stray_folder").mkdir()
    (brats_copy / "notes.txt").write_text("x")
    assert len(FORMATS.open(brats_copy, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training) == 4
    for seg in brats_copy.glob("*/*_seg.nii.gz"):
        seg.unlink()
    items = FORMATS.open(brats_copy, "brats2020", modalities=BRATS_DEFAULT_MODALITIES, with_label=False).test
    assert all("label" not in d for d in items)


def test_missing_modality_is_named(brats_copy):
    (brats_copy / "BraTS20_Training_002" / "BraTS20_Training_002_t1ce.nii.gz").unlink()
    (brats_copy / "BraTS20_Training_003" / "BraTS20_Training_003_seg.nii.gz").unlink()
    with pytest.raises(DatasetError) as err:
        FORMATS.open(brats_copy, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training
    message = str(err.value)
    assert "2 error(s)" in message
    assert "BraTS20_Training_002: missing BraTS20_Training_002_t1ce.nii.gz" in message
    assert "BraTS20_Training_003_seg.nii.gz" in message


def test_shape_mismatch_and_unreadable_header_are_named(brats_copy):
    case = brats_copy / "BraTS20_Training_001"
    seg = case / "BraTS20_Training_001_seg.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((24, 20, 12), np.uint8), np.eye(4)), str(seg))
    broken = brats_copy / "BraTS20_Training_004" / "BraTS20_Training_004_flair.nii.gz"
    broken.write_bytes(b"not a nifti file")
    with pytest.raises(DatasetError) as err:
        FORMATS.open(brats_copy, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training
    message = str(err.value)
    assert "volumes of case BraTS20_Training_001 differ in shape" in message and "(24, 20, 12)" in message
    assert f"{broken}: cannot read the image header" in message


def test_label_outside_0_1_2_4_is_named_when_decoded(brats_copy):
    seg = brats_copy / "BraTS20_Training_002" / "BraTS20_Training_002_seg.nii.gz"
    img = nib.load(seg)
    data = np.asarray(img.dataobj).copy()
    data[data == 4] = 3  # a label map already renumbered, or from another release
    nib.save(nib.Nifti1Image(data, img.affine), str(seg))
    item = FORMATS.open(brats_copy, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training[1]
    with pytest.raises(RuntimeError) as err:
        volume_pipeline()(item)
    assert str(seg) in str(err.value) and "outside the allowed labels [0, 1, 2, 4]" in str(err.value)


def test_nii_files_and_the_oddly_named_segmentation_are_found(tmp_path):
    root = generate_brats2020(tmp_path / "kaggle", 2, (16, 16, 8), suffix=".nii")
    case = root / "BraTS20_Training_002"
    (case / "BraTS20_Training_002_seg.nii").rename(case / "W39_1998.09.19_Segm.nii")
    datalist = FORMATS.open(root, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training
    assert Path(datalist[0]["image"][0]).name == "BraTS20_Training_001_flair.nii"
    assert Path(datalist[1]["label"]).name == "W39_1998.09.19_Segm.nii"


def test_nrrd_and_mha_volumes_are_read_through_itk(brats_dir, tmp_path):
    """A collaborator's conversion to NRRD/MHA reads to the same arrays as the NIfTI originals."""
    source = brats_dir / "BraTS20_Training_001"
    case = tmp_path / "converted" / "BraTS20_Training_001"
    case.mkdir(parents=True)
    for name, suffix in (("flair", ".nrrd"), ("t1ce", ".mha"), ("seg", ".nrrd")):
        image = itk.imread(str(source / f"BraTS20_Training_001_{name}.nii.gz"))
        itk.imwrite(image, str(case / f"BraTS20_Training_001_{name}{suffix}"))
    item = find_brats_case_files(case)
    assert [Path(p).suffix for p in item["image"]] == [".nrrd", ".mha"] and item["label"].endswith(".nrrd")
    converted = FORMATS.open(case.parent, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training[0]
    load = Compose([LoadImaged(keys=["image", "label"]), EnsureChannelFirstd(keys=["image", "label"])])
    a, b = load(converted), load(FORMATS.open(brats_dir, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training[0])
    for key in ("image", "label"):
        assert a[key].shape == b[key].shape
        np.testing.assert_allclose(a[key].numpy(), b[key].numpy())


def test_keep_slices_clips_records_and_inverts():
    volume = torch.arange(2 * 3 * 3 * 12, dtype=torch.float32).reshape(2, 3, 3, 12)
    t = KeepSlicesd(keys=["image", "label"], axis=2, start=5, stop=150)
    out = t({"image": volume, "label": volume[:1]})
    assert out["image"].shape == (2, 3, 3, 7) and torch.equal(out["image"].as_tensor(), volume[..., 5:])
    assert float(out["image"].affine[2, 3]) == 5.0  # the origin moved to the first kept slice
    back = t.inverse(out)
    assert back["image"].shape == volume.shape and torch.equal(back["image"][..., 5:].as_tensor(), volume[..., 5:])
    assert t.slices_for(155) == slice(5, 150)
    with pytest.raises(DatasetError, match="none in the range"):
        KeepSlicesd(keys="image", start=20)({"image": volume})
    with pytest.raises(DatasetError, match="differ in size"):
        t({"image": volume, "label": volume[..., :8]})
    with pytest.raises(ValueError):
        KeepSlicesd(keys="image", start=5, stop=5)


def test_split_by_case_follows_seed_001(brats_dir):
    cases = [{"case_id": f"BraTS20_Training_{i:03d}"} for i in range(1, 370)]
    assert [len(p) for p in split_by_group(cases, BRATS_SPLIT)] == [250, 74, 45]
    train, val, test = split_by_group(FORMATS.open(brats_dir, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training, BRATS_SPLIT)
    assert (len(train), len(val), len(test)) == (2, 1, 1)


def test_a_modality_sent_as_a_dicom_series_folder(brats_dir, tmp_path):
    case = Path(shutil.copytree(brats_dir / "BraTS20_Training_001", tmp_path / "dicom" / "BraTS20_Training_001"))
    source = case / "BraTS20_Training_001_t1ce.nii.gz"
    volume = itk.imread(str(source), itk.SS)
    # a series on another grid than the FLAIR (shifted origin), whatever per-slice positions ITK's writer keeps
    volume.SetOrigin([float(o) + 5.0 for o in volume.GetOrigin()])
    series = case / "BraTS20_Training_001_t1ce"
    series.mkdir()
    names = [str(series / f"IM{i:04d}.dcm") for i in range(SIZE[2])]
    writer = itk.ImageSeriesWriter[type(volume), itk.Image[itk.SS, 2]].New(
        Input=volume, ImageIO=itk.GDCMImageIO.New(), FileNames=names
    )
    writer.Update()
    source.unlink()
    item = FORMATS.open(case.parent, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training[0]  # the header check reads the series too
    assert item["image"][1] == str(series)
    t1ce = LoadImage(image_only=True)(item["image"][1])  # ITK reads the folder as one series
    reference = nib.load(brats_dir / "BraTS20_Training_001" / "BraTS20_Training_001_t1ce.nii.gz").get_fdata()
    assert tuple(t1ce.shape) == SIZE
    np.testing.assert_allclose(t1ce.numpy(), reference)
    # this series is not on the FLAIR's grid, so it cannot be stacked with the NIfTI FLAIR: the error names the series
    with pytest.raises(DatasetError, match="BraTS20_Training_001_t1ce: affine differs from .*_flair.nii.gz's"):
        LoadVolumed(keys="image")(item)
