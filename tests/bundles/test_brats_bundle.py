"""Integration: bundles/brats_unet (seed 001) trains, evaluates and infers on a tiny synthetic BraTS2020 twin through the
stock ``python -m monai.bundle run`` CLI; its network passes MONAI's ``verify_net_in_out`` against its metadata."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, verify_net_in_out

from data.splits import split_by_group
from formats import FORMATS
from formats.brats2020.synthetic import generate_brats2020
import catalog
from tests.bundles.seed_roots import in_root

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = "bundles/brats_unet/configs"
SIZE = (40, 40, 12)  # slices 5..11 are kept (the range 5-150 clipped to 12 slices)
# width 4, no parameter budget (`--target_params 0`, the bundle's default too), 32 x 32 slices
TINY = ["--image_size", "[32, 32]", "--features", "4", "--target_params", "0", "--batch_size", "8", "--device", "cpu"]
CLASS_COLUMNS = ["class0_background", "class1_NCR_NET", "class2_ED", "class3_ET"]
PER_CASE_HEADER = (
    ["case"] + [f"dice_{c}" for c in CLASS_COLUMNS] + [f"iou_{c}" for c in CLASS_COLUMNS]
    + ["dice_WT", "dice_TC", "dice_ET", "hd95_WT", "hd95_TC", "hd95_ET", "accuracy"]
)  # fmt: skip


def _run(config: str, root: Path, dataset: Path, *extra: str, extra_files: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    files = [*catalog.config_files("brats_unet", config), *extra_files]
    cmd = [
        sys.executable, "-m", "monai.bundle", "run", "--config_file", str(files),
        "--dataset_dir", str(dataset), "--bundle_root", str(root), *in_root(root, config, extra), *TINY, *extra,
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(autouse=True)
def _repo_root_cwd(monkeypatch):
    monkeypatch.chdir(ROOT)  # bundle configs name shared fragments relative to the repository root


@pytest.fixture(scope="module")
def brats(tmp_path_factory) -> Path:
    return generate_brats2020(tmp_path_factory.mktemp("brats") / "MICCAI_BraTS2020_TrainingData", 6, SIZE, seed=0)


@pytest.fixture(scope="module")
def trained(brats, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("brats_unet")
    _run("train", root, brats, "--epochs", "1")
    return root


def _test_cases(brats: Path) -> list[str]:
    return [d["case_id"] for d in split_by_group(FORMATS.open(brats, "brats2020").training, (250, 74, 45), seed=0)[2]]


def test_train_writes_checkpoints_tensorboard_and_class_pictures(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert (trained / "models" / "model.pt").is_file() and (trained / "models" / "checkpoint_epoch=1.pt").is_file()
    assert (trained / "runs" / "pictures" / "validation_epoch001.png").is_file()
    events = EventAccumulator(str(trained / "runs"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert {"train_loss", "val_brats_dice", "val_class_dice", "val_class_iou", "val_accuracy"} <= set(events.Tags()["scalars"])
    assert "validation/classes" in events.Tags()["images"]
    # the checkpoint is the bundle's 2-modality, 4-class network
    parser = ConfigParser()
    parser.read_config(f"{ROOT}/{CONFIGS}/train.yaml")
    parser.update({"features": 4})
    net = parser.get_parsed_content("network_def")
    net.load_state_dict(torch.load(trained / "models" / "model.pt", map_location="cpu", weights_only=True))
    assert net(torch.zeros(1, 2, 32, 32)).shape == (1, 4, 32, 32)


def test_evaluate_writes_per_case_table_of_classes_and_regions(trained, brats, tmp_path):
    out = tmp_path / "eval"
    _run("evaluate", trained, brats, "--output_dir", str(out))
    with open(out / "per_case.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == PER_CASE_HEADER
    assert [r[0] for r in rows[1:]] == _test_cases(brats)
    for row in rows[1:]:
        values = dict(zip(rows[0][1:], map(float, row[1:])))
        for name, value in values.items():
            if name.startswith("hd95"):
                assert math.isnan(value) or value >= 0.0, (name, value)
            else:
                assert 0.0 <= value <= 1.0, (name, value)
        # enhancing tumour: the class (BraTS label 4) and the region ET are the same voxels
        assert values["dice_class3_ET"] == pytest.approx(values["dice_ET"], abs=1e-5)
    means = {r[0]: float(r[1]) for r in csv.reader((out / "metrics.csv").read_text().splitlines()) if len(r) == 2}
    # the test cases' metrics are named test_* (validation's are val_*)
    assert {"test_brats_dice", "test_brats_hd95", "test_class_dice", "test_class_iou", "test_accuracy"} <= set(means)
    assert not [name for name in means if name.startswith("val_")], means
    assert (out / "pictures" / "evaluation_epoch001.png").is_file()


def test_inference_writes_brats_labels_with_input_geometry(trained, brats, tmp_path):
    out = tmp_path / "pred"
    _run("inference", trained, brats, "--output_dir", str(out))
    cases = _test_cases(brats)
    assert sorted(p.name for p in out.glob("*.nii.gz")) == sorted(f"{c}.nii.gz" for c in cases)
    for case in cases:
        pred = nib.load(str(out / f"{case}.nii.gz"))
        source = nib.load(str(brats / case / f"{case}_flair.nii.gz"))
        assert pred.shape == SIZE and pred.get_data_dtype() == np.uint8
        np.testing.assert_allclose(pred.affine, source.affine, atol=1e-5)
        values = np.asarray(pred.dataobj)
        assert set(np.unique(values).tolist()) <= {0, 1, 2, 4}
        assert not values[..., :5].any(), "slices before slice_start are background"
    assert (out / "pictures" / "inference_epoch001.png").is_file()


def test_verify_net_in_out():
    verify_net_in_out(
        net_id="network_def",
        meta_file=f"{ROOT}/{CONFIGS}/metadata.json",
        config_file=f"{ROOT}/{CONFIGS}/train.yaml",
        device="cpu",
        n=1,
        any=16,
        features=4,
    )
