from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from tests.formats.brats2020.test_brats2020 import volume_pipeline
from tests.formats.training_check import assert_learns, run_script_main
from formats import FORMATS
from formats.brats2020.discovery import BRATS_DEFAULT_MODALITIES, BRATS_MODALITIES
from formats.brats2020.synthetic import BRATS_NAME_MAPPING_HEADER, generate_brats2020

ROOT = Path(__file__).resolve().parents[3]


def test_layout_files_dtypes_and_labels(tmp_path):
    root = generate_brats2020(tmp_path / "MICCAI_BraTS2020_TrainingData", 3, (20, 22, 10), seed=1)
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert folders == ["BraTS20_Training_001", "BraTS20_Training_002", "BraTS20_Training_003"]
    names = sorted(p.name for p in (root / folders[0]).iterdir())
    assert names == sorted(f"BraTS20_Training_001_{m}.nii.gz" for m in (*BRATS_MODALITIES, "seg"))
    with (root / "name_mapping.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == BRATS_NAME_MAPPING_HEADER and [r[-1] for r in rows[1:]] == folders
    seg = nib.load(root / folders[0] / f"{folders[0]}_seg.nii.gz")
    flair = nib.load(root / folders[0] / f"{folders[0]}_flair.nii.gz")
    assert seg.shape == flair.shape == (20, 22, 10)
    assert seg.get_data_dtype() == np.uint8 and flair.get_data_dtype() == np.int16
    assert nib.aff2axcodes(flair.affine) == ("L", "P", "S") and np.allclose(flair.affine, seg.affine)
    labels = np.asarray(seg.dataobj)
    assert set(np.unique(labels).tolist()) == {0, 1, 2, 4}
    image = np.asarray(flair.dataobj).astype(float)
    normal = (labels == 0) & (image > 0)
    assert image[labels == 2].mean() > 1.3 * image[normal].mean(), "edema (label 2) bright in FLAIR"
    t1ce = np.asarray(nib.load(root / folders[0] / f"{folders[0]}_t1ce.nii.gz").dataobj).astype(float)
    assert t1ce[labels == 4].mean() > 1.3 * t1ce[normal].mean(), "enhancing tumour (label 4) bright in T1ce"


def test_deterministic_validation_release_and_overwrite(tmp_path):
    a = generate_brats2020(tmp_path / "a", 1, (16, 16, 8), seed=2)
    b = generate_brats2020(tmp_path / "b", 2, (16, 16, 8), seed=2)
    name = "BraTS20_Training_001/BraTS20_Training_001_t2.nii.gz"
    np.testing.assert_array_equal(np.asarray(nib.load(a / name).dataobj), np.asarray(nib.load(b / name).dataobj))
    val = generate_brats2020(tmp_path / "val", 2, (16, 16, 8), split="Validation")
    assert not list(val.glob("*/*_seg.nii.gz")) and (val / "name_mapping_validation_data.csv").is_file()
    assert [d["case_id"] for d in FORMATS.open(val, "brats2020", modalities=BRATS_DEFAULT_MODALITIES, with_label=False).test] == [
        "BraTS20_Validation_001", "BraTS20_Validation_002",
    ]  # fmt: skip
    with pytest.raises(FileExistsError):
        generate_brats2020(a, 1, (16, 16, 8))
    generate_brats2020(a, 1, (16, 16, 8), overwrite=True)


def test_script_writes_then_skips(tmp_path, capsys):
    out = tmp_path / "brats"
    args = ["brats2020", "--out", str(out), "--num_cases", "2", "--spatial_size", "16", "16", "8"]
    cmd = [sys.executable, str(ROOT / "scripts/make_synthetic.py"), *args]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    assert f"wrote the brats2020 synthetic data set to {out} (num_cases 2," in first.stdout
    assert len(FORMATS.open(out, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training) == 2
    assert run_script_main("make_synthetic.py", args) == 0
    assert "skipped" in capsys.readouterr().out


def test_a_tiny_unet_learns_the_four_classes(tmp_path):
    root = generate_brats2020(tmp_path / "train", 3, (48, 48, 24), seed=0)
    pipeline = volume_pipeline(size=(32, 32, -1))
    images, labels = [], []
    for item in FORMATS.open(root, "brats2020", modalities=BRATS_DEFAULT_MODALITIES).training:
        data = pipeline(item)
        tumour = (data["label"] > 0).sum(dim=(0, 1, 2)) > 0
        for z in torch.nonzero(tumour).flatten()[::2]:
            images.append(data["image"][..., z].as_tensor())
            labels.append(data["label"][..., z].as_tensor())
    assert len(images) >= 8
    assert_learns(torch.stack(images), torch.stack(labels), num_classes=4)
