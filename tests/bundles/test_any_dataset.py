"""Integration: any registered data set through the stock `python -m monai.bundle` CLI with the generic override files
(bundles/common/configs/any_dataset*.yaml), which the bundle's own train/evaluate/inference commands run on a data set
other than the seed's (`recipe: auto`): each synthetic nnU-Net twin trains, evaluates and infers in 2D, the MRI and
CT twins also in 3D; predictions keep their input's geometry; the tables have one row per case; a nested override
reaches the data pipeline."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TRAIN = "bundles/unet/configs/train.yaml"
ANY = "bundles/common/configs/any_dataset.yaml"
EVALUATE = "bundles/common/configs/any_dataset_evaluate.yaml"
INFERENCE = "bundles/common/configs/any_dataset_inference.yaml"
OWN_EVALUATE, OWN_INFERENCE = "bundles/unet/configs/evaluate.yaml", "bundles/unet/configs/inference.yaml"
# tiny: width 4, epochs of 2 batches of 2 patches; 2 of the 5 training cases held out
TINY = [
    "--iterations_per_epoch", "2", "--plan#features", "4", "--plan#batch_size", "2",
    "--val_fraction", "0.4", "--device", "cpu", "--seed", "0", "--num_workers", "0",
]  # fmt: skip
NUM_TRAINING, NUM_TEST = 5, 2


def config_list(*files: str) -> str:
    return "[" + ",".join(f"'{f}'" for f in files) + "]"


def run_bundle(files: list[str], *args: str) -> str:
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", config_list(*files), *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")  # tiny tensors: one thread, no spinning against other processes
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def twins(tmp_path_factory) -> dict[str, Path]:
    from formats import FORMATS

    out = tmp_path_factory.mktemp("twins")
    fmt = FORMATS.get("nnunet_v2")
    return {
        kind: fmt.synthesize(out / kind, kind=kind, num_training=NUM_TRAINING, num_test=NUM_TEST, seed=0)
        for kind in ("mri", "ct", "png2d", "regions")
    }


def read_rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def check_outputs(run: Path, dataset: Path, spatial_dims: int, prediction_ending: str = ".nii.gz") -> None:
    """plan.json, per-case metrics of the held-out cases, predictions in the inputs' geometry, the volume table."""
    from formats.nnunet_v2.readers import read_channel_file

    plan = json.loads((run / "models" / "plan.json").read_text())
    meta = json.loads((dataset / "dataset.json").read_text())
    assert plan["spatial_dims"] == spatial_dims and len(plan["patch_size"]) == spatial_dims
    names = plan["class_names"] if plan["region_based"] else plan["class_names"][1:]
    rows = read_rows(run / "eval" / "case_metrics.csv")
    assert len(rows) == 2 and len({r["case"] for r in rows}) == 2, "one row per held-out case (2 of 5)"
    for metric in ("dice", "iou", "hd95"):
        assert all(f"{metric}_{n}" in rows[0] for n in names), f"{metric} per class: {list(rows[0])}"
    assert all(0.0 <= float(r["mean_dice"]) <= 1.0 for r in rows if r["mean_dice"] != "nan")
    means = read_rows(run / "eval" / "mean_metrics.csv")
    assert [m["class"] for m in means] == [*names, "mean"]
    assert (run / "eval" / "pictures" / "evaluation_epoch001.png").is_file()

    test_images = sorted((dataset / "imagesTs").glob(f"*_0000{meta['file_ending']}"))
    assert len(test_images) == NUM_TEST
    allowed = {0} | {int(v) for v in plan["label_values"] or []} | set(plan["regions_class_order"] or [])
    for image_file in test_images:
        case = image_file.name[: -len("_0000" + meta["file_ending"])]
        (pred_file,) = (run / "pred").glob(f"{case}.*")
        assert pred_file.name.endswith(prediction_ending), pred_file
        pred, pred_affine = read_channel_file(pred_file)
        array, affine = read_channel_file(image_file)  # the format's own reader: (*spatial), 4 x 4 affine
        assert pred.shape == array.shape, f"{case}: prediction {pred.shape} vs input {array.shape}"
        assert np.allclose(pred_affine, affine, atol=1e-4), f"{case}: affine differs from the input's"
        assert set(np.unique(pred).astype(int).tolist()) <= allowed, "label values of dataset.json"
    volumes = read_rows(run / "pred" / "volumes.csv")
    assert sorted(r["case"] for r in volumes) == sorted(f.name[: -len("_0000" + meta["file_ending"])] for f in test_images)
    unit = "ml" if spatial_dims == 3 or plan["slice_axis"] is not None else "mm2"
    assert all(f"{n}_voxels" in volumes[0] and f"{n}_{unit}" in volumes[0] for n in names)
    assert (run / "pred" / "pictures" / "inference_epoch001.png").is_file()


def train_evaluate_infer(
    run: Path, dataset: Path, *extra: str, separate: bool = False, variant: str | None = None, epochs: int = 1,
    explicit: bool = False,
) -> str:
    """Train, then evaluate and infer with the saved plan and model; `separate`: each its own command as a user
    runs them; otherwise evaluation and inference in one process (both override files, both engines run).

    The commands are the bundle's own (train.yaml, then its evaluate.yaml / inference.yaml), whose `recipe: auto`
    runs the generic path on a data set other than the seed's; `explicit`: the generic path's files named instead."""
    common = ["--dataset_dir", str(dataset), "--ckpt_dir", str(run / "models"), *TINY, *extra]
    common += ["--fingerprint_dir", str(run.parent / "fingerprints")]
    base = [TRAIN] + ([variant] if variant else []) + ([ANY] if explicit else [])
    evaluate, inference = (EVALUATE, INFERENCE) if explicit else (OWN_EVALUATE, OWN_INFERENCE)
    log = run_bundle(base, *common, "--epochs", str(epochs), "--output_dir", str(run / "train"))
    if separate:
        run_bundle([*base, evaluate], *common, "--output_dir", str(run / "eval"))
        run_bundle([*base, inference], *common, "--output_dir", str(run / "pred"))
    else:  # one process: the evaluation writes into eval/, the predictions into pred/
        both = "['$@evaluate#evaluator.run()', '$@infer#evaluator.run()']"
        run_bundle(
            [*base, evaluate, inference], *common, "--output_dir", str(run / "pred"), "--run", both,
            "--metrics_dir", str(run / "eval"),
        )  # fmt: skip
    return log


@pytest.mark.slow
def test_mri_twin_2d_three_commands(twins, tmp_path):
    log = train_evaluate_infer(tmp_path / "run", twins["mri"], separate=True)
    assert "plan written to" in log and "recipe: the default recipe, because" in log
    check_outputs(tmp_path / "run", twins["mri"], spatial_dims=2)


@pytest.mark.slow
def test_ct_twin_2d_stops_at_the_time_limit(twins, tmp_path):
    """`--time_limit` (seconds) ends training after the first epoch past it, however many `--epochs` remain."""
    log = train_evaluate_infer(tmp_path / "run", twins["ct"], "--time_limit", "0.001", epochs=3, explicit=True)
    assert "time limit" in log
    assert [p.name for p in (tmp_path / "run" / "models").glob("checkpoint_epoch=*.pt")] == ["checkpoint_epoch=1.pt"]
    check_outputs(tmp_path / "run", twins["ct"], spatial_dims=2)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, dims, variant",
    [
        ("png2d", 2, "bundles/attention_unet/configs/variant.yaml"),  # a variant of the family on the same path
        ("regions", 2, None),
        ("mri", 3, None),
        ("ct", 3, None),
    ],
)
def test_twin_trains_evaluates_and_infers(twins, tmp_path, kind, dims, variant):
    ending = ".png" if kind == "png2d" else ".nii.gz"  # PNG inputs: predictions as PNG (--prediction_ending input)
    extra = ["--prediction_ending", "input"] if kind == "png2d" else []
    train_evaluate_infer(tmp_path / "run", twins[kind], "--spatial_dims", str(dims), *extra, variant=variant)
    check_outputs(tmp_path / "run", twins[kind], spatial_dims=dims, prediction_ending=ending)


def test_nested_override_reaches_the_data_pipeline(twins, tmp_path):
    """`--plan#patch_size` and `--default_recipe#...` (nested keys) change the patches the trainer draws; in-process
    parse."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([str(ROOT / TRAIN), str(ROOT / ANY)])
    parser.update(
        {
            "dataset_dir": str(twins["mri"]), "ckpt_dir": str(tmp_path / "models"), "device": "cpu",
            "fingerprint_dir": str(tmp_path / "fingerprints"), "plan#patch_size": [16, 8], "plan#batch_size": 3,
            "default_recipe#foreground_fraction": 1.0, "iterations_per_epoch": 2,
        }
    )  # fmt: skip
    parser.parse()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        loader = parser.get_parsed_content("data#train_loader")
        network = parser.get_parsed_content("network_def")
    finally:
        os.chdir(cwd)
    batch = next(iter(loader))
    assert tuple(batch["image"].shape) == (3, 1, 16, 8), "patch size and batch size from the --plan# overrides"
    assert all(b.sum() > 0 for b in batch["label"]), "--default_recipe#foreground_fraction 1: every patch holds a label"
    assert len(loader) == 2
    saved = json.loads((tmp_path / "models" / "plan.json").read_text())
    assert saved["patch_size"] == [16, 8] and saved["batch_size"] == 3
    assert network(batch["image"][:1]).shape == (1, 4, 16, 8), "in/out channels of the plan: 1 MRI channel, 4 classes"


def test_fold_selects_one_part_of_a_cross_validation_by_case(twins, tmp_path, monkeypatch):
    """`--fold N --num_folds K` trains fold N: the validation parts of the folds are disjoint and hold every case."""
    from monai.bundle import ConfigParser

    monkeypatch.chdir(ROOT)
    held_out = []
    for fold in range(NUM_TRAINING):
        parser = ConfigParser()
        parser.read_config([str(ROOT / TRAIN), str(ROOT / ANY)])
        parser.update({"dataset_dir": str(twins["mri"]), "fold": fold, "num_folds": NUM_TRAINING})
        train, val = parser.get_parsed_content("data#train_files"), parser.get_parsed_content("data#val_files")
        assert len(val) == 1 and len(train) == NUM_TRAINING - 1 and val[0] not in train
        held_out.append(val[0]["case_id"])
    assert len(set(held_out)) == NUM_TRAINING, "each case validated by exactly one fold"
