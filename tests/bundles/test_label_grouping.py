"""Seed 000's whole-tumour task through the generic path: the synthetic MSD Task01 with one override,
`--labels "{'background': 0, 'tumour': [1, 2, 3]}"` (one region, one sigmoid output), trains one epoch, then
evaluation and inference (any_dataset_evaluate.yaml, any_dataset_inference.yaml) take the grouping from the saved
plan without the override; the predictions hold the region's value (regions_class_order) in the input's geometry.
In this process, as `python -m monai.bundle run` would run them (about 3 s). The rules of the grouping and the
saved plan's checks: tests/data/test_label_grouping.py."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigWorkflow

ROOT = Path(__file__).resolve().parents[2]
TRAIN = "bundles/unet/configs/train.yaml"
ANY = "bundles/common/configs/any_dataset.yaml"
EVALUATE = "bundles/common/configs/any_dataset_evaluate.yaml"
INFERENCE = "bundles/common/configs/any_dataset_inference.yaml"
WHOLE_TUMOUR = {"background": 0, "tumour": [1, 2, 3]}


def files_of(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


def run_workflow(files: list[str], workflow_type: str, **overrides) -> ConfigWorkflow:
    workflow = ConfigWorkflow(config_file=[str(ROOT / f) for f in files], workflow_type=workflow_type, **overrides)
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return workflow


def test_whole_tumour_of_seed_000_trains_evaluates_and_infers(synthetic_msd_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the configs name their shared YAML relative to the repository root
    torch.set_num_threads(1)
    data = shutil.copytree(synthetic_msd_dir, tmp_path / "Task01_BrainTumour")  # nothing is written into it
    before = files_of(data)
    run = tmp_path / "run"
    common = {
        "dataset_dir": str(data), "ckpt_dir": str(run / "models"), "fingerprint_dir": str(tmp_path / "fingerprints"),
        "device": "cpu", "num_workers": 0, "seed": 0, "amp": False, "val_fraction": 0.34,
        "plan#features": 4, "plan#batch_size": 2, "plan#patch_size": [32, 32],
    }  # fmt: skip
    trained = run_workflow(
        [TRAIN, ANY], "train", labels=WHOLE_TUMOUR, epochs=1, iterations_per_epoch=2, output_dir=str(run / "train"),
        **common,
    )  # fmt: skip
    assert trained.parser.get_parsed_content("train#trainer").state.iteration == 2
    plan = json.loads((run / "models" / "plan.json").read_text())
    assert plan["region_based"] and plan["activation"] == "sigmoid" and plan["out_channels"] == 1
    assert plan["class_names"] == ["tumour"] and plan["labels"] == WHOLE_TUMOUR
    assert plan["regions_class_order"] == [1] and plan["in_channels"] == 4

    # evaluation and inference without --labels: the saved plan carries the grouping
    run_workflow([TRAIN, ANY, EVALUATE], "infer", output_dir=str(run / "eval"), **common)
    with (run / "eval" / "case_metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2, "the 2 held-out cases of 6"
    assert [c for c in rows[0] if c != "case"] == [
        "dice_tumour", "iou_tumour", "hd95_tumour", "mean_dice", "mean_iou", "mean_hd95",
    ]  # fmt: skip

    run_workflow([TRAIN, ANY, INFERENCE], "infer", output_dir=str(run / "pred"), **common)
    test_images = sorted((data / "imagesTs").glob("*.nii.gz"))
    assert len(test_images) == 2
    for image_file in test_images:
        pred_file = run / "pred" / image_file.name
        image, pred = nib.load(str(image_file)), nib.load(str(pred_file))
        assert pred.shape == image.shape[:3], f"{pred_file}: {pred.shape} vs input {image.shape}"
        assert np.allclose(pred.affine, image.affine, atol=1e-4), f"{pred_file}: affine differs from the input's"
        values = set(np.unique(np.asarray(pred.dataobj)).astype(int).tolist())
        assert values <= {0, 1}, f"{pred_file}: values {values}, expected the region's value 1 and background 0"
    with (run / "pred" / "volumes.csv").open(newline="") as handle:
        volumes = list(csv.DictReader(handle))
    assert list(volumes[0]) == ["case", "tumour_voxels", "tumour_ml"]
    assert files_of(data) == before, "nothing written into the data set folder"

