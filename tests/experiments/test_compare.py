"""Integration: a 2 x 2 comparison (unet, attention_unet x dice, bce) on the tiny synthetic data, through the
script, then again (nothing retrained), then after a simulated interruption."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from experiments import ComparisonRunner, expand_matrix
from experiments.results import COLUMNS
from scripts.compare_variants import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ["epochs=1", "roi_size=[32, 32]", "target_params=0", "features=4", "batch_size=8", "device=cpu"]


@pytest.fixture(scope="module")
def comparison(synthetic_msd_dir, tmp_path_factory):
    exp = tmp_path_factory.mktemp("compare")
    argv = ["--bundles", "unet", "attention_unet", "--losses", "dice", "bce", "--seeds", "0",
            "--dataset_dir", str(synthetic_msd_dir), "--exp_dir", str(exp), "--threads", "1", "--metric", "test_iou"]
    for item in TINY:
        argv += ["--set", item]
    assert main(argv) == 0
    return exp, argv


def _runs(exp: Path) -> list[Path]:
    return sorted(p for p in (exp / "runs").iterdir() if p.is_dir())


def test_table_has_one_row_per_variant_and_loss(comparison):
    exp, _ = comparison
    with open(exp / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == COLUMNS
    assert [(r["bundle"], r["loss"]) for r in rows] == [
        ("unet", "dice"), ("unet", "bce"), ("attention_unet", "dice"), ("attention_unet", "bce")]
    for r in rows:
        assert r["epochs"] == "1" and r["seeds"] == "1"
        assert 0.0 <= float(r["test_iou_mean"]) <= 1.0 and 0.0 <= float(r["best_val_dice_mean"]) <= 1.0
        assert float(r["train_time_per_epoch_mean"]) > 0 and float(r["inference_time_per_case_mean"]) > 0
    assert float(rows[0]["train_time_ratio"]) == 1.0
    assert int(rows[2]["parameters"]) > int(rows[0]["parameters"]) > 0  # attention gates add parameters
    md = (exp / "results.md").read_text().splitlines()
    assert md[0].startswith("| bundle | loss | parameters |") and len(md) == 2 + 4
    with open(exp / "runs.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 4
    split = json.loads((exp / "experiment.json").read_text())
    assert (len(split["train"]), len(split["val"]), len(split["test"])) == (4, 1, 1)
    # the test cases are held out: evaluated, never trained or validated on
    test_case = split["test"][0]["case_id"]
    assert test_case not in {c["case_id"] for c in split["train"] + split["val"]}
    per_case = (_runs(exp)[0] / "test_eval" / "val_mean_dice_raw.csv").read_text()
    assert f"{test_case}.nii.gz" in per_case


def test_pngs_exist_with_the_right_size(comparison):
    exp, _ = comparison
    with Image.open(exp / "test_iou.png") as png:
        assert png.format == "PNG" and png.size == (510, 360)  # 5.1 x 3.6 in at 100 dpi: 4 bars
    sizes = {"curves.png": (1024, 224), "gallery.png": (368, 216), "saliency.png": (704, 368)}
    for run in _runs(exp):
        pictures = {p.name: p for p in (run / "pictures").glob("*.png")}
        assert set(sizes) < set(pictures) and any(n.startswith("case_BRATS_") for n in pictures), pictures
        for name, size in sizes.items():
            with Image.open(pictures[name]) as png:
                assert png.size == size, (run.name, name, png.size)
        case = next(p for n, p in pictures.items() if n.startswith("case_"))
        with Image.open(case) as png:
            assert png.size == (1344, 240)  # 4 modalities + truth + prediction + errors, 2.4 x 3.0 in each at 80 dpi
        assert json.loads((run / "result.json").read_text())["pictures"]


def test_second_call_trains_nothing(comparison, synthetic_msd_dir):
    exp, argv = comparison
    before = {p: p.stat().st_mtime_ns for run in _runs(exp) for p in run.rglob("*")}
    runs = expand_matrix(["unet", "attention_unet"], ["dice", "bce"], [0],
                         {k: v for k, v in (i.split("=") for i in TINY)}, root=ROOT)
    assert main(argv) == 0
    after = {p: p.stat().st_mtime_ns for run in _runs(exp) for p in run.rglob("*")}
    assert after == before  # no new run folders, logs, checkpoints or pictures
    assert len(runs) == len(_runs(exp)) == 4


def test_an_interrupted_run_continues_and_only_it(comparison, synthetic_msd_dir, monkeypatch):
    exp, argv = comparison
    runs = [r for r in _runs(exp)]
    victim = runs[1]
    (victim / "result.json").unlink()  # killed after evaluation, before its result was written
    (victim / "train.done").unlink()  # ... no: killed during training, with a checkpoint on disk
    assert any((victim / "models").glob("checkpoint_epoch=*.pt"))
    calls = []

    def fake_bundle(self, run, config, override, log):  # record instead of training: the real one ran above
        calls.append((run.name, config, override.read_text()))
        os.utime(victim / "test_eval" / "metrics.csv")

    monkeypatch.setattr(ComparisonRunner, "_bundle", fake_bundle)
    assert main(argv) == 0
    assert [(name, config) for name, config, _ in calls] == [(victim.name, "train"), (victim.name, "evaluate")]
    assert "resume: true" in calls[0][2]  # continues from its latest checkpoint
    assert (victim / "result.json").is_file() and (victim / "train.done").is_file()


def test_trainer_logs_train_and_validation_curves(comparison):
    from experiments import read_scalars

    exp, _ = comparison
    scalars = read_scalars(_runs(exp)[0] / "train")
    for tag in ("train_epoch_loss", "train_mean_iou", "train_mean_dice", "train_accuracy", "train_epoch_time",
                "val_loss", "val_mean_iou", "val_mean_dice", "val_accuracy"):
        assert [step for step, _ in scalars[tag]] == [1], tag
    assert 0.0 <= scalars["train_accuracy"][0][1] <= 1.0 and scalars["val_loss"][0][1] > 0


def test_make_pictures_of_any_bundle_run(comparison, tmp_path):
    from scripts.make_pictures import main as make_pictures

    exp, _ = comparison
    run = next(r for r in _runs(exp) if r.name.startswith("unet-"))  # plain unet: train.yaml + its evaluate.yaml
    files = ["bundles/unet/configs/train.yaml", "bundles/unet/configs/evaluate.yaml", str(run / "evaluate.yaml")]
    out = tmp_path / "pictures"
    cwd = os.getcwd()
    try:
        assert make_pictures(["--config_file", str(files), "--out_dir", str(out), "--eval_dir", str(run / "test_eval"),
                              "--set", "device=cpu"]) == 0
    finally:
        os.chdir(cwd)
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == sorted([next(run.glob("pictures/case_*.png")).name, "gallery.png", "saliency.png"])
