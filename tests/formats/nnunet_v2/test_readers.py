"""Reading nnU-Net cases: channels stacked channel-first with channel 0's affine; NRRD / MHA / TIFF / PNG files."""

from __future__ import annotations

import itk
import numpy as np
import pytest
import tifffile
from PIL import Image

from data import DatasetError
from formats.nnunet_v2.readers import LoadNnUNetCased, read_channel_file, spacing_from_affine


@pytest.mark.parametrize("ending", [".nrrd", ".mha"])
def test_itk_files_keep_geometry(tmp_path, ending):
    arr = np.arange(4 * 5 * 6, dtype=np.float32).reshape(6, 5, 4)  # ITK's numpy view is (z, y, x)
    img = itk.image_from_array(arr)
    img.SetSpacing([0.5, 0.7, 2.0])
    path = tmp_path / f"case_0000{ending}"
    itk.imwrite(img, str(path))
    out, affine = read_channel_file(path)
    assert out.shape == (4, 5, 6)  # (x, y, z)
    np.testing.assert_allclose(spacing_from_affine(affine, 3), [0.5, 0.7, 2.0])
    np.testing.assert_array_equal(out, arr.transpose(2, 1, 0))


def test_2d_png_and_tiff_channels_stack(tmp_path):
    a = (np.arange(6 * 8) % 256).astype(np.uint8).reshape(6, 8)
    b = (255 - a).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "c_0000.png")
    tifffile.imwrite(tmp_path / "c_0001.tif", b)
    Image.fromarray((a > 20).astype(np.uint8)).save(tmp_path / "c.png")
    out = LoadNnUNetCased()({"image": [str(tmp_path / "c_0000.png"), str(tmp_path / "c_0001.tif")],
                            "label": str(tmp_path / "c.png")})
    assert tuple(out["image"].shape) == (2, 6, 8) and tuple(out["label"].shape) == (1, 6, 8)
    np.testing.assert_array_equal(out["image"][1].numpy(), b)
    assert spacing_from_affine(out["image"].affine, 2) == [1.0, 1.0]
    assert out["image"].meta["filename_or_obj"].endswith("c_0000.png")


def test_rgb_and_mismatched_channels_are_named(tmp_path):
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / "rgb_0000.png")
    with pytest.raises(DatasetError, match="rgb_0000.png.*own file"):
        read_channel_file(tmp_path / "rgb_0000.png")
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(tmp_path / "x_0000.png")
    Image.fromarray(np.zeros((6, 9), np.uint8)).save(tmp_path / "x_0001.png")
    with pytest.raises(DatasetError, match="x_0001.png: shape"):
        LoadNnUNetCased()({"image": [str(tmp_path / "x_0000.png"), str(tmp_path / "x_0001.png")]})


def test_2d_nifti_keeps_its_spacing(tmp_path):
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.ones((5, 7), np.float32), np.diag([0.5, 0.25, 1.0, 1.0])), str(tmp_path / "a.nii.gz"))
    arr, affine = read_channel_file(tmp_path / "a.nii.gz")
    assert arr.shape == (5, 7) and spacing_from_affine(affine, 2) == [0.5, 0.25]
    nib.save(nib.Nifti1Image(np.ones((2, 3, 4, 2), np.float32), np.eye(4)), str(tmp_path / "b.nii.gz"))
    with pytest.raises(DatasetError, match="b.nii.gz: expected a 3D volume"):
        read_channel_file(tmp_path / "b.nii.gz")


@pytest.mark.parametrize("ending", [".mha", ".nrrd"])
def test_itk_data_set_is_discovered_checked_and_loaded(tmp_path, ending):
    import json

    from data import IntegrityReport
    from formats import FORMATS

    root = tmp_path / "Dataset010_Itk"
    for sub in ("imagesTr", "labelsTr"):
        (root / sub).mkdir(parents=True)
    for case in ("a", "b"):
        for name, arr in ((f"imagesTr/{case}_0000", np.random.default_rng(0).random((5, 6, 7), dtype=np.float32)),
                          (f"labelsTr/{case}", (np.arange(210).reshape(5, 6, 7) % 2).astype(np.uint8))):
            img = itk.image_from_array(arr)
            img.SetSpacing([0.5, 0.6, 2.5])
            itk.imwrite(img, str(root / f"{name}{ending}"))
    meta = {"channel_names": {"0": "MR"}, "labels": {"background": 0, "x": 1}, "numTraining": 2, "file_ending": ending}
    (root / "dataset.json").write_text(json.dumps(meta))
    spec = FORMATS.open(root)
    assert spec.spatial_dims == 3 and len(spec.training) == 2
    report = IntegrityReport("nnunet_v2", root)
    FORMATS.get("nnunet_v2").check_case(spec.training[0], spec, report)
    assert report.ok, report.format()
    case = FORMATS.get("nnunet_v2").load_transforms(spec)[0](spec.training[0])
    assert tuple(case["image"].shape) == (1, 7, 6, 5)
    np.testing.assert_allclose(spacing_from_affine(case["image"].affine, 3), [0.5, 0.6, 2.5], rtol=1e-6)
