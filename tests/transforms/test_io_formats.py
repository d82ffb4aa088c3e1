"""Volumes that collaborators send: ``.nii``/``.nii.gz`` (nibabel), ``.nrrd``, ``.mha`` and DICOM series (ITK, GDCM),
written here by ITK, all load through ``LoadVolumed`` (and the MSD pipeline) as the same array with the same affine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.transforms import Compose

from data.errors import DatasetError
from transforms.io import READER_BY_SUFFIX, LoadVolumed
from formats import FORMATS as REGISTRY

ROOT = Path(__file__).resolve().parents[2]
SPACING, ORIGIN = (0.8, 0.9, 2.5), (10.0, -20.0, 5.0)
# the RAS affine MONAI gives a volume ITK wrote with SPACING, ORIGIN and an identity (LPS) direction
RAS_AFFINE = np.diag([-SPACING[0], -SPACING[1], SPACING[2], 1.0])
RAS_AFFINE[:3, 3] = (-ORIGIN[0], -ORIGIN[1], ORIGIN[2])
FORMATS = [".nii.gz", ".nii", ".nrrd", ".mha", "dicom"]


def _itk_image(array_zyx: np.ndarray, vector: bool = False):
    import itk

    image = itk.image_from_array(np.ascontiguousarray(array_zyx), is_vector=vector)
    image.SetSpacing(SPACING)
    image.SetOrigin(ORIGIN)
    return image


def write_dicom_series(folder: Path, array_zyx: np.ndarray) -> Path:
    """One DICOM file per slice (ITK's GDCM ImageIO), with the tags that place each slice: what a scanner sends."""
    import itk

    folder.mkdir(parents=True)
    study, series = "1.2.826.0.1.3680043.2.1125.1", "1.2.826.0.1.3680043.2.1125.2"
    for z, plane in enumerate(array_zyx.astype(np.int16)):
        image = itk.image_from_array(np.ascontiguousarray(plane))
        image.SetSpacing(SPACING[:2])
        tags = image.GetMetaDataDictionary()
        for key, value in {
            "0008|0060": "MR", "0010|0010": "synthetic", "0020|000d": study, "0020|000e": series,
            "0008|0018": f"{series}.{z + 1}", "0020|0013": str(z + 1), "0018|0050": str(SPACING[2]),
            "0020|0032": f"{ORIGIN[0]}\\{ORIGIN[1]}\\{ORIGIN[2] + SPACING[2] * z}", "0020|0037": "1\\0\\0\\0\\1\\0",
            "0028|0030": f"{SPACING[1]}\\{SPACING[0]}",
        }.items():  # fmt: skip
            tags[key] = value
        io = itk.GDCMImageIO.New()
        io.KeepOriginalUIDOn()
        itk.ImageFileWriter[type(image)].New(Input=image, FileName=str(folder / f"IM{z:04d}.dcm"), ImageIO=io).Update()
    return folder


def write_volume(path_or_folder: Path, array_zyx: np.ndarray, fmt: str, vector: bool = False) -> str:
    import itk

    if fmt == "dicom":
        return str(write_dicom_series(path_or_folder, array_zyx))
    path = f"{path_or_folder}{fmt}"
    itk.imwrite(_itk_image(array_zyx, vector), path)
    return path


@pytest.fixture(scope="module")
def volume() -> np.ndarray:
    """(Z, Y, X) = (4, 6, 5) integers (exact in int16 DICOM and in float32)."""
    return np.random.default_rng(0).integers(0, 1000, size=(4, 6, 5)).astype(np.float32)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_loads_as_the_same_array_and_affine(tmp_path, volume, fmt):
    path = write_volume(tmp_path / "case", volume, fmt)
    loaded = LoadVolumed(keys="image")({"image": path})["image"]
    assert tuple(loaded.shape) == (5, 6, 4)  # (X, Y, Z), as nibabel gives a NIfTI
    np.testing.assert_array_equal(loaded.numpy(), volume.transpose(2, 1, 0))
    np.testing.assert_allclose(loaded.affine.numpy(), RAS_AFFINE, atol=1e-4)
    assert str(loaded.meta["filename_or_obj"]).startswith(str(tmp_path / "case"))
    by_nibabel = "sform_code" in loaded.meta  # NIfTI header fields: NiftiReader (MONAI NibabelReader)
    assert by_nibabel == fmt.startswith(".nii"), f"{fmt}: read by {'nibabel' if by_nibabel else 'ITK'}"


def test_the_reader_table_and_no_fallback_reader(tmp_path, volume):
    assert READER_BY_SUFFIX[".nii.gz"] == READER_BY_SUFFIX[".nii"] == "NiftiReader"  # NibabelReader, faster
    assert {READER_BY_SUFFIX[s] for s in (".nrrd", ".mha", ".mhd", ".dcm", "<folder>")} == {"ITKReader"}
    path = write_volume(tmp_path / "cut", volume, ".nii.gz")
    head = Path(path).read_bytes()[:200]
    Path(path).write_bytes(head)  # truncated inside the header: ITK would "read" it, nibabel must fail
    with pytest.raises(DatasetError, match="cannot read the volume") as err:
        LoadVolumed(keys="image")({"image": path})
    assert str(err.value).startswith(path)
    bad = tmp_path / "garbage.nrrd"
    bad.write_bytes(b"NRRD0004\ntype: float\ndimension: 3\nsizes: 5 6 4\nencoding: raw\n\n\x00\x01")
    with pytest.raises(DatasetError, match="cannot read the volume") as err:
        LoadVolumed(keys="image")({"image": str(bad)})
    assert str(err.value).startswith(str(bad))


@pytest.mark.parametrize("fmt", [".nrrd", ".mha"])
def test_msd_pipeline_reads_itk_formats_as_the_nifti(tmp_path, synthetic_msd_dir, fmt):
    """A Task01 case sent as a 4-channel .nrrd/.mha image with a DICOM-series label goes through the MSD discovery
    (header checks) and the MSD fragment's volume transforms exactly as the NIfTI original does."""
    original = REGISTRY.open(synthetic_msd_dir, "msd", num_channels=4).training[0]
    image = np.asarray(nib.load(original["image"]).dataobj)  # (X, Y, Z, 4)
    label = np.asarray(nib.load(original["label"]).dataobj)  # (X, Y, Z)
    root = tmp_path / "Task01"
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    image_path = write_volume(root / "imagesTr" / "BRATS_001", image.transpose(2, 1, 0, 3), fmt, vector=True)
    label_path = write_volume(root / "labelsTr" / "BRATS_001", label.transpose(2, 1, 0), "dicom")
    entry = {"image": os.path.relpath(image_path, root), "label": os.path.relpath(label_path, root)}
    meta = json.loads((synthetic_msd_dir / "dataset.json").read_text())  # modality, labels, ...: the task's own
    meta.update(training=[entry], test=[], numTraining=1, numTest=0)
    (root / "dataset.json").write_text(json.dumps(meta))
    (item,) = REGISTRY.open(root, "msd", num_channels=4).training
    assert item["case_id"] == "BRATS_001"

    parser = ConfigParser()
    parser.read_config(ROOT / "bundles/unet/configs/train.yaml")
    parser.update({"roi_size": [32, 32]})
    pipeline = Compose(parser.get_parsed_content("data#volume_transforms"))
    ours, reference = pipeline(item), pipeline(original)
    for key in ("image", "label"):
        assert ours[key].shape == reference[key].shape
        torch.testing.assert_close(ours[key].as_tensor().float(), reference[key].as_tensor().float(), atol=1e-5, rtol=0)
