from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from tests.formats.isbi2012.test_isbi2012 import load_pipeline
from tests.formats.training_check import assert_learns, run_script_main
from formats import FORMATS
from formats.isbi2012.synthetic import generate_isbi2012, synthesize_em_stack

ROOT = Path(__file__).resolve().parents[3]


def test_files_pages_and_values_as_in_the_challenge(tmp_path):
    root = generate_isbi2012(tmp_path, num_pages=4, size=64, seed=0)
    assert sorted(p.name for p in root.iterdir()) == ["test-volume.tif", "train-labels.tif", "train-volume.tif"]
    for name in ("train-volume.tif", "train-labels.tif", "test-volume.tif"):
        with tifffile.TiffFile(root / name) as tif:
            assert len(tif.pages) == 4
            assert all(p.shape == (64, 64) and p.dtype == np.uint8 for p in tif.pages)
    labels = tifffile.imread(root / "train-labels.tif")
    assert set(np.unique(labels).tolist()) == {0, 255}
    assert not np.array_equal(tifffile.imread(root / "test-volume.tif"), tifffile.imread(root / "train-volume.tif"))


def test_em_look_membranes_dark_organelles_inside_cells_sections_correlated():
    stack = synthesize_em_stack(num_pages=6, size=160, seed=1)
    membrane = stack.labels == 0
    assert 0.1 < membrane.mean() < 0.4, membrane.mean()  # the real stack: about 22 %
    assert stack.images[membrane].mean() < 0.6 * stack.images[~membrane].mean()
    dark_in_cells = (stack.images < 110) & ~membrane
    assert dark_in_cells.sum() > 0.005 * dark_in_cells.size, "organelles: dark, yet labelled cell"
    near = np.mean(stack.labels[0] == stack.labels[1])
    far = np.mean(stack.labels[0] == stack.labels[5])
    assert near > far, "neighbouring sections look alike"


def test_deterministic_and_real_size(tmp_path):
    a, b = synthesize_em_stack(2, 40, seed=3), synthesize_em_stack(2, 40, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, synthesize_em_stack(2, 40, seed=4).images)
    big = synthesize_em_stack(1, 512, seed=0)
    assert big.images.shape == big.labels.shape == (1, 512, 512)
    with pytest.raises(FileExistsError):
        generate_isbi2012(generate_isbi2012(tmp_path, 1, 16), 1, 16)


def test_script_writes_then_skips(tmp_path, capsys):
    args = ["isbi2012", "--out", str(tmp_path / "isbi"), "--num_pages", "3", "--size", "32", "--no_test"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/make_synthetic.py"), *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "wrote the isbi2012 synthetic data set to" in done.stdout and "num_pages 3, size 32" in done.stdout
    assert len(FORMATS.open(tmp_path / "isbi", "isbi2012", num_pages=3).training) == 3
    assert not (tmp_path / "isbi" / "test-volume.tif").exists()
    assert run_script_main("make_synthetic.py", args) == 0 and "skipped" in capsys.readouterr().out


def test_a_tiny_unet_learns_membranes(tmp_path):
    root = generate_isbi2012(tmp_path, num_pages=6, size=64, seed=0, with_test=False)
    samples = [load_pipeline()(item) for item in FORMATS.open(root, "isbi2012").training]
    images = torch.stack([s["image"].as_tensor() for s in samples])
    labels = torch.stack([s["label"].as_tensor() for s in samples])
    assert_learns(images, labels, num_classes=2)
