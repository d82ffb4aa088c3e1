"""The format registry: every seed format registered once, looked up by name, detected from its folder, opened
into a DatasetSpec and checked; the synthetic generators are imported only when a twin is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from data.errors import DatasetError
from formats import FORMATS, DataFormat, DatasetSpec

ROOT = Path(__file__).resolve().parents[2]
SMALL = {
    "msd": {"num_training": 2, "num_test": 1, "spatial_size": (16, 16, 6)},
    "brats2020": {"num_cases": 2, "spatial_size": (16, 16, 6)},
    "isbi2012": {"num_pages": 3, "size": 32},
    "figshare": {"num_images": 3, "num_patients": 2, "size": 32},
    "png_pairs": {"num_images": 3, "size": 32},
}


def test_the_seed_formats_are_registered_once():
    assert {"brats2020", "figshare", "isbi2012", "msd", "png_pairs"} <= set(FORMATS.names())
    assert all(isinstance(FORMATS.get(name), DataFormat) and FORMATS.get(name).name == name for name in FORMATS.names())
    with pytest.raises(ValueError, match="valid names: brats2020, figshare, isbi2012, msd"):
        FORMATS.get("msd_task01")


@pytest.mark.parametrize("name", sorted(SMALL))
def test_synthetic_twin_is_detected_opened_checked_and_loaded(name, tmp_path):
    fmt = FORMATS.get(name)
    root = fmt.synthesize(tmp_path / name, **SMALL[name])
    assert FORMATS.detect(root) == name
    spec = FORMATS.open(root)
    assert isinstance(spec, DatasetSpec) and spec.format == name and spec.training
    assert spec.num_channels >= 1 and spec.num_classes >= 2 and spec.root == root.absolute()
    report = FORMATS.check(root, name, progress=False)
    assert report.ok, report.format()
    data = fmt.load_transforms(spec)
    item = dict(spec.training[0])
    for transform in data:
        item = transform(item)
    assert item["image"].shape[0] == spec.num_channels and item["label"].shape[0] == 1
    assert item["image"].ndim == 1 + spec.spatial_dims


def test_msd_reads_channel_and_class_names_from_dataset_json(synthetic_msd_dir):
    spec = FORMATS.open(synthetic_msd_dir, "msd")
    assert spec.channel_names == ["FLAIR", "T1w", "t1gd", "T2w"]
    assert spec.class_names[0] == "background" and spec.num_classes == 4 and spec.label_values is None


def test_an_unknown_folder_names_itself(tmp_path):
    with pytest.raises(DatasetError, match=f"{tmp_path}: not a data set folder of any known format"):
        FORMATS.open(tmp_path)
    report = FORMATS.check(tmp_path, progress=False)
    assert not report.ok and report.errors[0].path == str(tmp_path)


def test_first_twenty_findings_in_the_error_the_report_keeps_all(tmp_path):
    root = FORMATS.get("png_pairs").synthesize(tmp_path / "pairs", num_images=25, size=16)
    for mask in sorted((root / "masks").iterdir()):
        mask.unlink()
    spec, report = FORMATS.discover(root, "png_pairs")
    assert len(report.errors) == 25
    with pytest.raises(DatasetError) as err:
        report.raise_if_errors()
    assert "... and 5 more" in str(err.value) and len(str(err.value).splitlines()) == 20 + 2


def test_importing_the_formats_does_not_import_the_synthetic_generators():
    code = "import sys, formats; print(sorted(m for m in sys.modules if m.startswith('formats.') and 'synthetic' in m))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
