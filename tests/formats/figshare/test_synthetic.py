from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from tests.formats.figshare.test_figshare import load_pipeline
from tests.formats.training_check import assert_learns, run_script_main
from formats import FORMATS
from formats.figshare.readers import read_figshare_mat
from formats.figshare.synthetic import generate_figshare, matlab_v73_header, synthesize_figshare_slice

ROOT = Path(__file__).resolve().parents[3]


def test_files_are_matlab_v73_as_matlab_writes_them(tmp_path):
    root = generate_figshare(tmp_path, num_images=3, num_patients=2, size=32, seed=0)
    path = root / "brainTumorDataPublic_1-3" / "1.mat"
    head = path.read_bytes()[:512]
    assert head == matlab_v73_header() and head.startswith(b"MATLAB 7.3 MAT-file, Platform: ")
    assert b"HDF5 schema 1.00 ." in head[:116] and head[124:128] == b"\x00\x02IM"
    assert path.read_bytes()[512:520] == b"\x89HDF\r\n\x1a\n"
    with h5py.File(path) as f:
        assert f.userblock_size == 512 and list(f.keys()) == ["cjdata"]
        group = f["cjdata"]
        assert group.attrs["MATLAB_class"] == b"struct"
        fields = [b"".join(name).decode() for name in group.attrs["MATLAB_fields"]]
        assert fields == ["label", "PID", "image", "tumorBorder", "tumorMask"]
        expected = {
            "label": ((1, 1), np.float64, b"double"), "PID": ((6, 1), np.uint16, b"char"),
            "image": ((32, 32), np.int16, b"int16"), "tumorMask": ((32, 32), np.uint8, b"logical"),
        }  # fmt: skip
        for name, (shape, dtype, matlab_class) in expected.items():
            assert group[name].shape == shape and group[name].dtype == dtype, name
            assert group[name].attrs["MATLAB_class"] == matlab_class, name
        assert group["PID"].attrs["MATLAB_int_decode"] == 2 and group["tumorMask"].attrs["MATLAB_int_decode"] == 1
        border = group["tumorBorder"]
        assert border.shape[1] == 1 and border.shape[0] % 2 == 0 and border.attrs["MATLAB_class"] == b"double"
    assert (root / "README.txt").is_file()


def test_patients_classes_and_tumour_look(tmp_path):
    root = generate_figshare(tmp_path, num_images=9, num_patients=3, size=96, seed=1)
    datalist = FORMATS.open(root, "figshare").training
    assert len(datalist) == 9
    by_patient: dict[str, set] = {}
    for item in datalist:
        by_patient.setdefault(item["patient_id"], set()).add(item["tumour_class"])
    assert len(by_patient) == 3 and all(len(c) == 1 for c in by_patient.values())
    assert sorted(c.pop() for c in by_patient.values()) == [1, 2, 3]
    for item in datalist:
        record = read_figshare_mat(item["image"])
        assert record.mask.sum() > 0 and record.border.size > 0
        tumour = record.image[record.mask > 0].mean()
        if item["tumour_class"] in (1, 3):
            assert tumour > 1.5 * np.median(record.image[record.image > 200]), "meningioma/pituitary enhance"
    for tumour_class in (1, 2, 3):
        a = synthesize_figshare_slice(48, tumour_class, (0, 1), 0.0, (0, 2))
        b = synthesize_figshare_slice(48, tumour_class, (0, 1), 0.0, (0, 2))
        np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="tumour_class"):
        synthesize_figshare_slice(48, 4, 0, 0.0, 0)


def test_script_writes_then_skips(tmp_path, capsys):
    args = ["figshare", "--out", str(tmp_path / "fig"), "--num_images", "4", "--num_patients", "2", "--size", "32"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/make_synthetic.py"), *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "wrote the figshare synthetic data set to" in done.stdout and "num_images 4, num_patients 2" in done.stdout
    assert len(FORMATS.open(tmp_path / "fig", "figshare").training) == 4
    assert run_script_main("make_synthetic.py", args) == 0 and "skipped" in capsys.readouterr().out
    with pytest.raises(FileExistsError):
        generate_figshare(tmp_path / "fig", 4, 2, size=32)


def test_a_tiny_unet_learns_the_tumour(tmp_path):
    root = generate_figshare(tmp_path, num_images=12, num_patients=6, size=128, seed=0)
    pipeline = load_pipeline(size=(64, 64))
    samples = [pipeline(item) for item in FORMATS.open(root, "figshare").training]
    images = torch.stack([s["image"].as_tensor() for s in samples])
    labels = torch.stack([s["label"].as_tensor() for s in samples])
    assert_learns(images, labels, num_classes=2)
