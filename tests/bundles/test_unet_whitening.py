"""Integration: `--zca_whitening true` on the unet bundle fits the ZCA whitening once on the training slices, stores it
next to the checkpoint, and inference applies that stored transform, through the stock `python -m monai.bundle` CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

import catalog
from transforms.whitening import ZCAWhitening

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--roi_size", "[32, 32]", "--target_params", "0", "--features", "4", "--batch_size", "8", "--device", "cpu",
    "--seed", "0",
]  # fmt: skip


def run_bundle(config: str, *args: str) -> str:
    files = catalog.config_files("unet", config.removesuffix(".yaml"))
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(files), *args, *TINY]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout + proc.stderr


def test_train_with_zca_whitening_then_infer_with_the_stored_transform(synthetic_msd_dir, tmp_path):
    models = tmp_path / "models"
    common = ["--dataset_dir", str(synthetic_msd_dir), "--ckpt_dir", str(models)]
    log = run_bundle("train.yaml", *common, "--epochs", "1", "--zca_whitening", "true", "--zca_epsilon", "0.05",
                     "--output_dir", str(tmp_path / "runs"))  # fmt: skip
    stored = models / "whitening.pt"
    assert f"stored as {stored}" in log
    assert (models / "model.pt").is_file() and stored.is_file()
    whitening = ZCAWhitening.load(stored)
    assert whitening.epsilon == 0.05 and whitening.num_channels == 4 and whitening.patch_size == 5

    log = run_bundle("inference.yaml", *common, "--max_cases", "1", "--output_dir", str(tmp_path / "pred"))
    assert f"applying the stored ZCA whitening {stored}" in log
    (written,) = (tmp_path / "pred").glob("*_seg.nii.gz")
    assert set(np.unique(np.asarray(nib.load(str(written)).dataobj)).tolist()) <= {0, 1}
