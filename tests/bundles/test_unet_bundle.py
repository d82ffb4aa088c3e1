"""Integration: bundles/unet trains, evaluates and infers through the stock `python -m monai.bundle` CLI, and a bad
data set fails before training with an error that names the file."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

import catalog

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "bundles" / "unet" / "configs"
# tiny but complete, every user key passed the way a user would. `--target_params 0` switches the 8.5 M parameter
# budget off (MONAI's CLI drops `None` overrides), so `--features 4` is the width: 1-2 s per epoch on a CPU.
TINY = [
    "--roi_size", "[32, 32]", "--target_params", "0", "--features", "4", "--batch_size", "8", "--device", "cpu",
    "--seed", "0",
]  # fmt: skip
SUMMARY_ROWS = ("mean", "median", "max", "min", "90percentile", "std", "notnans")


def bundle_cmd(config: str, *args: str, extra_files: tuple[str, ...] = ()) -> list[str]:
    """The user's command for workflow ``config`` (``train.yaml``, ``evaluate.yaml``, ...) of bundles/unet: its config
    list (catalog: train.yaml, then the workflow's override file) plus ``extra_files``."""
    files = [*catalog.config_files("unet", config.removesuffix(".yaml")), *extra_files]
    return [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(files), *args]


def run_bundle(config: str, *args: str, extra_files: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    cmd = bundle_cmd(config, *args, extra_files=extra_files)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def read_metrics(path: Path) -> dict[str, float]:
    with open(path, newline="") as f:
        return {row[0]: float(row[1]) for row in csv.reader(f, delimiter=",") if len(row) == 2}


@pytest.fixture(scope="module")
def trained(synthetic_msd_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("unet_bundle")
    common = ["--dataset_dir", str(synthetic_msd_dir), "--ckpt_dir", str(out / "models"), *TINY]
    run_bundle("train.yaml", *common, "--epochs", "1", "--output_dir", str(out / "train"))
    return out, common


def test_train_writes_checkpoints_tensorboard_and_picture(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _ = trained
    assert (out / "models" / "model.pt").is_file(), "best-by-IoU checkpoint"
    assert (out / "models" / "checkpoint_epoch=1.pt").is_file(), "latest checkpoint for resume"
    assert list((out / "train").glob("events.out.tfevents.*")), "TensorBoard event file"
    events = EventAccumulator(str(out / "train"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert {"train_loss", "val_mean_iou", "val_mean_dice"} <= set(events.Tags()["scalars"])
    assert "validation/overlay" in events.Tags()["images"], "image / label / prediction picture in TensorBoard"
    assert (out / "train" / "pictures" / "validation_epoch001.png").is_file()


def test_resume_continues_to_more_epochs(trained, tmp_path):
    out, common = trained
    proc = run_bundle("train.yaml", *common, "--epochs", "2", "--resume", "true", "--output_dir", str(tmp_path))
    assert "resuming from" in proc.stdout + proc.stderr
    assert "checkpoint_epoch=1.pt" in proc.stdout + proc.stderr
    assert (out / "models" / "checkpoint_epoch=2.pt").is_file()
    assert not (out / "models" / "checkpoint_epoch=1.pt").exists(), "only the latest state is kept"
    state = torch.load(out / "models" / "checkpoint_epoch=2.pt", map_location="cpu", weights_only=True)
    assert {"model", "optimizer", "trainer", "best_checkpoint"} <= set(state)
    assert state["trainer"]["iteration"] == 2 * state["trainer"]["epoch_length"], "two epochs done"
    assert len(state["best_checkpoint"]["_saved"]) == 1, "the record of model.pt and its score"


def test_evaluate_writes_per_case_csv_and_mean(trained, synthetic_msd_dir):
    out, common = trained
    run_bundle("evaluate.yaml", *common, "--output_dir", str(out / "eval"))
    metrics = read_metrics(out / "eval" / "metrics.csv")
    assert 0.0 <= metrics["val_mean_dice"] <= 1.0 and 0.0 <= metrics["val_mean_iou"] <= 1.0
    for name in ("dice", "iou"):
        with open(out / "eval" / f"val_mean_{name}_raw.csv", newline="") as f:
            rows = list(csv.reader(f, delimiter=","))
        assert rows[0] == ["filename", "class0", "mean"], rows[0]
        cases = [Path(r[0]).name for r in rows[1:]]
        assert cases and all(c.startswith("BRATS_") and c.endswith(".nii.gz") for c in cases), rows
        # per-case values average to the reported mean
        assert np.isclose(np.nanmean([float(r[2]) for r in rows[1:]]), metrics[f"val_mean_{name}"], atol=1e-4)
        with open(out / "eval" / f"val_mean_{name}_summary.csv", newline="") as f:
            assert [r[0] for r in csv.reader(f)][1:] == ["class0", "mean"]


def test_inference_writes_label_map_with_input_geometry(trained, synthetic_msd_dir):
    """A crop in one in-plane axis and a pad in the other (roi 16 x 48 on 32 x 32 volumes) are both undone."""
    out, common = trained
    args = [*common, "--roi_size", "[16, 48]", "--max_cases", "1", "--output_dir", str(out / "pred")]
    run_bundle("inference.yaml", *args)
    test_images = json.loads((Path(synthetic_msd_dir) / "dataset.json").read_text())["test"]
    source = nib.load(str(Path(synthetic_msd_dir) / test_images[0]))
    written = sorted((out / "pred").glob("*_seg.nii.gz"))
    assert len(written) == 1 and written[0].name == Path(test_images[0]).name.replace(".nii.gz", "_seg.nii.gz")
    pred = nib.load(str(written[0]))
    assert pred.shape == source.shape[:3]
    np.testing.assert_allclose(pred.affine, source.affine, atol=1e-5)
    assert pred.get_data_dtype() == np.uint8
    values = np.asarray(pred.dataobj)
    assert set(np.unique(values).tolist()) <= {0, 1}
    # outside the 16-voxel-wide centre crop nothing was predicted: the crop was undone by padding with 0
    assert not values[:8].any() and not values[-8:].any()
    assert (out / "pred" / "pictures" / "inference_epoch001.png").is_file()


def _remove(path: Path) -> None:
    path.unlink()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:3000])  # the NIfTI header survives, the voxel data does not


def _nan_voxel(path: Path) -> None:
    img = nib.load(str(path))
    data = np.asarray(img.dataobj).copy()
    data[5, 5, 5, 2] = np.nan
    nib.save(nib.Nifti1Image(data, img.affine, img.header), str(path))


@pytest.mark.parametrize(
    "corrupt, message",
    [(_remove, "not found"), (_truncate, "cannot read the volume"), (_nan_voxel, "NaN")],
    ids=["missing", "truncated", "nan"],
)
def test_bad_image_fails_before_training_naming_the_file(synthetic_msd_dir, tmp_path, corrupt, message):
    data = Path(shutil.copytree(synthetic_msd_dir, tmp_path / "Task01_BrainTumour"))
    bad = data / "imagesTr" / "BRATS_002.nii.gz"
    corrupt(bad)
    args = ["--dataset_dir", str(data), "--ckpt_dir", str(tmp_path / "models"), "--output_dir", str(tmp_path / "runs")]
    proc = subprocess.run(
        bundle_cmd("train.yaml", *args, *TINY, "--epochs", "1"), cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 1, f"exit status {proc.returncode}\n{proc.stderr[-3000:]}"  # 134 would be an abort
    # our error, last (its message may span lines: a list of files), then where the full traceback is
    error = proc.stderr.rpartition("ERROR: ")[2].rpartition("\n(full traceback in ")[0]
    assert str(bad) in error and message in error, proc.stderr[-3000:]
    assert "Epoch" not in proc.stdout + proc.stderr, "training started"
    assert not (tmp_path / "models").exists()


def test_verify_net_in_out():
    cmd = [
        sys.executable, "-m", "monai.bundle", "verify_net_in_out", "network_def",
        "--meta_file", "bundles/unet/configs/metadata.json",
        "--config_file", "bundles/unet/configs/train.yaml",
        "--device", "cpu", "--target_params", "0", "--features", "4",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "data shape of network is verified with no error" in proc.stdout + proc.stderr


def test_time_limit_stops_within_an_iteration_and_validates_that_epoch(synthetic_msd_dir, tmp_path):
    proc = run_bundle(
        "train.yaml", "--dataset_dir", str(synthetic_msd_dir), *TINY, "--epochs", "50", "--time_limit", "0.001",
        "--ckpt_dir", str(tmp_path / "models"), "--output_dir", str(tmp_path / "train"),
    )  # fmt: skip
    assert "time limit 0 s reached in epoch 1 (iteration 1" in proc.stdout + proc.stderr
    state = torch.load(tmp_path / "models" / "checkpoint_epoch=1.pt", map_location="cpu", weights_only=True)
    assert state["trainer"]["iteration"] == 1, "the budget ended epoch 1 after its first iteration"
    assert (tmp_path / "models" / "model.pt").is_file(), "that epoch was validated (best checkpoint written)"
