"""Discovery of nnU-Net v2 data sets: the synthetic twins are clean; every broken layout is named by its file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from data import DatasetError, IntegrityReport
from formats import FORMATS
from formats.nnunet_v2.synthetic import generate_nnunet_v2


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("nnunet")
    return {k: generate_nnunet_v2(out, kind=k, num_training=3, num_test=1, seed=1) for k in ("mri", "png2d", "regions")}


def _copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / src.name))


def _edit_json(root: Path, **changes) -> None:
    meta = json.loads((root / "dataset.json").read_text())
    meta.update(changes)
    (root / "dataset.json").write_text(json.dumps(meta))


def _messages(root: Path) -> list[str]:
    spec, report = FORMATS.discover(root, "nnunet_v2")
    return [str(f) for f in report.errors]


def test_twins_are_detected_and_clean(twins):
    for kind, root in twins.items():
        assert FORMATS.detect(root) == "nnunet_v2"
        spec = FORMATS.open(root)
        assert spec.format == "nnunet_v2" and len(spec.training) == 3 and len(spec.test) == 1
        assert all(len(c["image"]) == spec.num_channels for c in spec.training + spec.test)
    assert FORMATS.open(twins["png2d"]).spatial_dims == 2
    regions = FORMATS.open(twins["regions"])
    assert regions.region_based and regions.regions_class_order == [1, 2, 3]
    assert regions.class_names == ["whole tumor", "tumor core", "enhancing tumor"]


def test_missing_channel_file_names_it(twins, tmp_path):
    root = _copy(twins["regions"], tmp_path)
    victim = root / "imagesTr" / "synthregions_001_0002.nii.gz"
    victim.unlink()
    errors = _messages(root)
    assert any(str(victim) in e and "missing" in e and "3 of 4" in e for e in errors), errors
    with pytest.raises(DatasetError, match="synthregions_001_0002"):
        FORMATS.open(root)


def test_num_training_disagreeing(twins, tmp_path):
    root = _copy(twins["mri"], tmp_path)
    _edit_json(root, numTraining=7)
    errors = _messages(root)
    assert any("dataset.json" in e and "numTraining is 7" in e and "3 case(s)" in e for e in errors), errors


def test_labels_not_consecutive(twins, tmp_path):
    root = _copy(twins["mri"], tmp_path)
    _edit_json(root, labels={"background": 0, "fat": 1, "fluid": 3})
    errors = _messages(root)
    assert any("not consecutive" in e and "missing [2]" in e and "dataset.json" in e for e in errors), errors


def test_regions_need_class_order(twins, tmp_path):
    root = _copy(twins["regions"], tmp_path)
    meta = json.loads((root / "dataset.json").read_text())
    del meta["regions_class_order"]
    (root / "dataset.json").write_text(json.dumps(meta))
    assert any("regions_class_order" in e for e in _messages(root))


def test_unknown_file_ending_and_bad_names(twins, tmp_path):
    root = _copy(twins["mri"], tmp_path)
    (root / "imagesTr" / "notes.txt").write_text("x")
    shutil.copy(root / "imagesTr" / "synthmri_000_0000.nii.gz", root / "imagesTr" / "synthmri_000.nii.gz")
    errors = _messages(root)
    assert any("notes.txt" in e and "unknown file ending" in e for e in errors), errors
    assert any("synthmri_000.nii.gz" in e and "{case}_{XXXX}" in e for e in errors), errors
    _edit_json(root, file_ending=".jpg2")
    assert any("file_ending '.jpg2' is not supported" in e for e in _messages(root))


def test_label_without_images_and_images_without_label(twins, tmp_path):
    root = _copy(twins["mri"], tmp_path)
    (root / "labelsTr" / "synthmri_001.nii.gz").unlink()
    errors = _messages(root)
    assert any("synthmri_001.nii.gz" in e and "no label" in e for e in errors), errors


def test_2d_and_3d_mixed(twins, tmp_path):
    root = _copy(twins["mri"], tmp_path)
    import nibabel as nib
    import numpy as np

    flat = root / "imagesTr" / "synthmri_002_0000.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((32, 32), np.float32), np.eye(4)), str(flat))
    nib.save(nib.Nifti1Image(np.zeros((32, 32), np.uint8), np.eye(4)), str(root / "labelsTr" / "synthmri_002.nii.gz"))
    errors = _messages(root)
    assert any(str(flat) in e and "2D case in a data set of 3D cases" in e for e in errors), errors


def test_missing_dataset_json_and_keys(twins, tmp_path):
    root = _copy(twins["mri"], tmp_path)
    _edit_json(root, channel_names=None)
    meta = json.loads((root / "dataset.json").read_text())
    del meta["channel_names"]
    (root / "dataset.json").write_text(json.dumps(meta))
    assert any("missing key(s) ['channel_names']" in e for e in _messages(root))
    (root / "dataset.json").unlink()
    report = IntegrityReport("nnunet_v2", root)
    assert FORMATS.get("nnunet_v2").discover(root, report) is None
    assert "dataset.json" in report.errors[0].path


def test_discovery_writes_nothing(twins):
    root = twins["png2d"]
    before = sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*"))
    spec = FORMATS.open(root)
    fmt = FORMATS.get("nnunet_v2")
    report = IntegrityReport("nnunet_v2", root)
    for case in spec.training:
        fmt.check_case(case, spec, report)
        fmt.load_transforms(spec)[0](case)
    assert sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*")) == before


def test_ignore_label_is_a_warning(twins, tmp_path):
    root = _copy(twins["mri"], tmp_path)
    _edit_json(root, labels={"background": 0, "fat": 1, "muscle": 2, "fluid": 3, "ignore": 4})
    spec, report = FORMATS.discover(root, "nnunet_v2")
    assert report.ok and spec is not None and any('"ignore"' in w.message for w in report.warnings)


def test_dataset_file_list_in_dataset_json(twins, tmp_path):
    src = twins["mri"]
    root = tmp_path / "Dataset999_Listed"
    (root / "files").mkdir(parents=True)
    listed = {}
    for i, lab in enumerate(sorted((src / "labelsTr").iterdir())):
        case = lab.name[: -len(".nii.gz")]
        shutil.copy(src / "imagesTr" / f"{case}_0000.nii.gz", root / "files" / f"img{i}.nii.gz")
        shutil.copy(lab, root / "files" / f"seg{i}.nii.gz")
        listed[case] = {"images": [f"files/img{i}.nii.gz"], "label": f"files/seg{i}.nii.gz"}
    meta = json.loads((src / "dataset.json").read_text())
    (root / "dataset.json").write_text(json.dumps({**meta, "dataset": listed}))
    assert FORMATS.detect(root) == "nnunet_v2"
    spec = FORMATS.open(root)
    assert [c["case_id"] for c in spec.training] == sorted(listed)
    assert spec.training[0]["image"][0].endswith("img0.nii.gz")
    (root / "files" / "seg1.nii.gz").unlink()
    errors = _messages(root)
    assert any("seg1.nii.gz" in e and "missing" in e for e in errors), errors
