from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.formats.png_pairs.test_png_pairs import load_pipeline
from tests.formats.training_check import assert_learns, run_script_main
from formats import FORMATS
from formats.png_pairs.synthetic import generate_png_pairs, synthesize_liver_slice

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("kind", ["liver", "cell"])
def test_grey_png_pairs_with_0_255_masks(tmp_path, kind):
    root = generate_png_pairs(tmp_path, kind, num_images=3, size=40, seed=0)
    assert sorted(p.name for p in (root / "images").iterdir()) == ["000.png", "001.png", "002.png"]
    for name in ("000.png", "002.png"):
        image, mask = Image.open(root / "images" / name), Image.open(root / "masks" / name)
        assert image.mode == mask.mode == "L" and image.size == mask.size == (40, 40)
        assert set(np.unique(np.asarray(mask)).tolist()) == {0, 255}
    with pytest.raises(FileExistsError):
        generate_png_pairs(tmp_path, kind, num_images=3, size=40)


def test_liver_grows_towards_the_middle_and_is_brighter_than_its_surroundings():
    small = synthesize_liver_slice(128, 0.0, seed=(0, 1))
    large = synthesize_liver_slice(128, 1.0, seed=(0, 1))
    assert (large[1] > 0).sum() > 2 * (small[1] > 0).sum()
    image, mask = large
    body = image > 60  # inside the body, outside the liver: fat, muscle, organs
    assert image[mask > 0].mean() > image[body & (mask == 0)].mean() + 10
    again = synthesize_liver_slice(64, 0.5, (1, 2))[0]
    np.testing.assert_array_equal(synthesize_liver_slice(64, 0.5, (1, 2))[0], again)


def test_script_writes_then_skips(tmp_path, capsys):
    args = ["png_pairs", "--kind", "cell", "--out", str(tmp_path / "cell"), "--num_images", "2", "--size", "32"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/make_synthetic.py"), *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "wrote the png_pairs synthetic data set to" in done.stdout and "kind cell, num_images 2" in done.stdout
    assert len(FORMATS.open(tmp_path / "cell", "png_pairs").training) == 2
    assert run_script_main("make_synthetic.py", args) == 0 and "skipped" in capsys.readouterr().out


@pytest.mark.parametrize("kind, size", [("liver", 64), ("cell", 64)])
def test_a_tiny_unet_learns_the_masks(tmp_path, kind, size):
    root = generate_png_pairs(tmp_path, kind, num_images=8, size=size, seed=0)
    samples = [load_pipeline()(d) for d in FORMATS.open(root, "png_pairs").training]
    images = torch.stack([s["image"].as_tensor() for s in samples])
    labels = torch.stack([s["label"].as_tensor() for s in samples])
    assert_learns(images, labels, num_classes=2)
