"""Per-case checks of nnU-Net v2 cases: geometry of each channel against the label, label values, decoding."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from data import IntegrityReport
from formats import FORMATS
from formats.nnunet_v2.synthetic import generate_nnunet_v2


@pytest.fixture()
def regions(tmp_path: Path) -> Path:
    return generate_nnunet_v2(tmp_path, kind="regions", num_training=2, num_test=0, spatial_size=(12, 12, 8))


def _check(root: Path) -> IntegrityReport:
    spec = FORMATS.open(root)
    report = IntegrityReport("nnunet_v2", root)
    for case in spec.training:
        FORMATS.get("nnunet_v2").check_case(case, spec, report)
    return report


def test_clean_case(regions):
    assert _check(regions).ok


def test_channel_spacing_differs(regions):
    f = regions / "imagesTr" / "synthregions_000_0001.nii.gz"
    img = nib.load(str(f))
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj), np.diag([1.0, 1.0, 2.0, 1.0])), str(f))
    errors = [str(e) for e in _check(regions).errors]
    assert len(errors) == 1 and str(f) in errors[0] and "spacing [1.0, 1.0, 2.0] differs" in errors[0], errors


def test_channel_shape_differs_and_origin_warning(regions):
    f = regions / "imagesTr" / "synthregions_001_0003.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((12, 12, 7), np.float32), np.eye(4)), str(f))
    g = regions / "imagesTr" / "synthregions_000_0002.nii.gz"
    aff = np.eye(4)
    aff[:3, 3] = 5.0
    nib.save(nib.Nifti1Image(np.asarray(nib.load(str(g)).dataobj), aff), str(g))
    report = _check(regions)
    assert [e.path for e in report.errors] == [str(f)] and "shape (12, 12, 7) differs" in report.errors[0].message
    assert [w.path for w in report.warnings] == [str(g)] and "origin or direction" in report.warnings[0].message


def test_undeclared_label_value_and_undecodable(regions):
    lab = regions / "labelsTr" / "synthregions_000.nii.gz"
    arr = np.asarray(nib.load(str(lab)).dataobj).copy()
    arr[0, 0, 0] = 7
    nib.save(nib.Nifti1Image(arr, np.eye(4)), str(lab))
    broken = regions / "imagesTr" / "synthregions_001_0001.nii.gz"  # discovery reads channel 0 only
    broken.write_bytes(b"not a nifti")
    errors = {e.path: e.message for e in _check(regions).errors}
    assert "label value(s) [7] are not declared" in errors[str(lab)]
    assert "cannot be decoded" in errors[str(broken)]
