"""A label written like its input has the input's shape and geometry, in each file format."""

from __future__ import annotations

import itk
import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from data import DatasetError
from formats.nnunet_v2.readers import read_channel_file
from formats.nnunet_v2.writers import write_label_like


def _label(shape):
    return (np.arange(int(np.prod(shape))).reshape(shape) % 3).astype(np.float32)


def test_nifti_keeps_affine_and_header(tmp_path):
    affine = np.array([[0, -0.9, 0, 10], [0.9, 0, 0, -5], [0, 0, 3.0, 2], [0, 0, 0, 1]])
    ref = tmp_path / "case_0000.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((6, 5, 4)).astype(np.float32), affine), str(ref))
    label = _label((6, 5, 4))
    out = write_label_like(label[None], ref, tmp_path / "pred" / "case.nii.gz")
    img = nib.load(str(out))
    np.testing.assert_array_equal(img.affine, nib.load(str(ref)).affine)  # as stored (float32)
    np.testing.assert_allclose(img.affine, affine, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(img.dataobj), label)
    assert img.get_data_dtype() == np.uint8


@pytest.mark.parametrize("ending", [".mha", ".nrrd"])
def test_itk_keeps_spacing_origin_direction(tmp_path, ending):
    ref_img = itk.image_from_array(np.zeros((4, 5, 6), np.float32))
    ref_img.SetSpacing([0.5, 0.7, 2.0])
    ref_img.SetOrigin([1.0, 2.0, 3.0])
    ref = tmp_path / f"case_0000{ending}"
    itk.imwrite(ref_img, str(ref))
    label = _label((6, 5, 4))  # (x, y, z) as read_channel_file gives it
    out = write_label_like(label, ref, tmp_path / f"case{ending}")
    back, affine = read_channel_file(out)
    np.testing.assert_array_equal(back, label)
    np.testing.assert_allclose(affine, read_channel_file(ref)[1])
    assert tuple(itk.imread(str(out)).GetOrigin()) == (1.0, 2.0, 3.0)


@pytest.mark.parametrize("ending", [".png", ".tif"])
def test_2d(tmp_path, ending):
    ref = tmp_path / "c_0000.png"
    Image.fromarray(np.zeros((5, 7), np.uint8)).save(ref)
    label = _label((5, 7))
    label[0, 0] = 300 if ending == ".tif" else 2
    out = write_label_like(label, ref, tmp_path / f"c{ending}")
    np.testing.assert_array_equal(read_channel_file(out)[0], label)
    with pytest.raises(DatasetError, match="cannot take the geometry"):
        write_label_like(label[:, :6], ref, tmp_path / f"d{ending}")


def test_prediction_through_crop_and_resampling_goes_back_to_the_input_geometry(tmp_path):
    from monai.transforms import Compose, CropForegroundd, Spacingd

    from formats import FORMATS
    from formats.nnunet_v2.synthetic import generate_nnunet_v2

    root = generate_nnunet_v2(tmp_path, kind="mri", num_training=1, num_test=1, spatial_size=(20, 18, 8))
    spec = FORMATS.open(root)
    case = spec.test[0]
    pipeline = Compose(FORMATS.get("nnunet_v2").load_transforms(spec) + [
        CropForegroundd("image", source_key="image", allow_smaller=True),
        Spacingd("image", pixdim=(1.3, 1.3, 2.0), mode="nearest"),
    ])
    image = pipeline(dict(case))["image"]
    pred = image.clone()
    pred[:] = (image > image.mean()).float()  # a "prediction" on the network's grid, with its history
    back = pipeline.inverse({"image": pred})["image"]
    out = write_label_like(back, case["image"][0], tmp_path / "pred" / f"{case['case_id']}.nii.gz")
    written, ref = nib.load(str(out)), nib.load(case["image"][0])
    assert written.shape == ref.shape
    np.testing.assert_array_equal(written.affine, ref.affine)
