"""Model selection the way nnU-Net does it: the folds' validation cases are disjoint and cover every case, the
configurations are ranked by their cross-validation Dice, keeping the largest component is applied only to the
classes where it raised the held-out Dice; end to end through the script (2 configurations x 2 folds, tiny), with the
winner's ensemble command and its export."""

from __future__ import annotations

import contextlib
import csv
import json
import math
import shlex
import time
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

from experiments.best_configuration import (
    Configuration,
    ConfigurationResult,
    configurations,
    fold_validation_cases,
    parse_overrides,
    rank,
    score_configuration,
    write_tables,
)
from experiments.postprocessing import ComponentDecision

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--epochs", "1", "--iterations_per_epoch", "1", "--plan#features", "4", "--plan#batch_size", "2",
    "--device", "cpu", "--num_workers", "0", "--tta", "false",
]  # fmt: skip


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    from formats import FORMATS

    out = tmp_path_factory.mktemp("twin")
    return FORMATS.get("nnunet_v2").synthesize(out, kind="png2d", num_training=5, num_test=1, seed=0)


def test_folds_are_disjoint_and_cover_every_case(twin):
    from data.loaders import open_dataset

    cases = {c["case_id"] for c in open_dataset(str(twin), "auto").training}
    for k in (2, 5):
        folds = [[c["case_id"] for c in f] for f in fold_validation_cases(twin, k)]
        assert len(folds) == k and all(folds)
        assert sorted(c for f in folds for c in f) == sorted(cases), "every case validated exactly once"
    with pytest.raises(ValueError, match="num_folds"):
        fold_validation_cases(twin, 6)


def test_configurations():
    assert [c.name for c in configurations(["unet", "attention_unet"], [2, 3], data_dims=3)] == [
        "unet_2d", "unet_3d", "attention_unet_2d", "attention_unet_3d"]
    assert [c.name for c in configurations(["unet"], [2, 3], data_dims=2)] == ["unet_2d"], "3D only for 3D data"
    assert Configuration("attention_unet", 2).train_files() == [
        "bundles/unet/configs/train.yaml", "bundles/attention_unet/configs/variant.yaml",
        "bundles/common/configs/any_dataset.yaml"]
    with pytest.raises(ValueError, match="unknown bundle"):
        configurations(["no_such_net"], [2], data_dims=2)
    with pytest.raises(ValueError, match="no configuration"):
        configurations(["unet"], [3], data_dims=2)
    assert parse_overrides(["--epochs", "3", "--plan#patch_size", "[16, 16]", "--tta", "false"]) == {
        "epochs": 3, "plan#patch_size": [16, 16], "tta": "false"}  # as MONAI's CLI (Fire) parses them


def result(name: str, folds: list[float], pp: list[float]) -> ConfigurationResult:
    return ConfigurationResult(Configuration(name, 2), [f"runs/{name}/2d_fold_{i}" for i in range(len(folds))],
                               folds, pp, ComponentDecision([], {1: 0.5}, {1: 0.4}), [1])


def test_ranking_follows_the_cross_validation_dice(tmp_path):
    results = [result("unet", [0.6, 0.7], [0.6, 0.7]), result("attention_unet", [0.7, 0.8], [0.75, 0.85]),
               result("residual_unet", [0.9, 0.1], [0.9, 0.1]), result("nas_unet", [float("nan")] * 2, [float("nan")] * 2)]
    ranked = rank(results)
    assert [r.configuration.bundle for r in ranked] == ["attention_unet", "unet", "residual_unet", "nas_unet"]
    assert ranked[0].cv_dice_pp[0] == pytest.approx(0.8) and ranked[0].cv_dice[0] == pytest.approx(0.75)
    assert ranked[0].cv_dice_pp[1] == pytest.approx(np.std([0.75, 0.85], ddof=1)), "sd over the folds"
    table = write_tables(ranked, tmp_path)
    rows = list(csv.DictReader((tmp_path / "best_configuration.csv").open()))
    assert [r["configuration"] for r in rows] == ["attention_unet_2d", "unet_2d", "residual_unet_2d", "nas_unet_2d"]
    assert "| 1 | attention_unet_2d | 2 | 0.7500 ± 0.0707 | 0.8000 ± 0.0707 |" in table
    assert (tmp_path / "cv_dice.png").stat().st_size > 0 and (tmp_path / "best_configuration.md").is_file()


def save(path: Path, array: np.ndarray) -> str:
    nib.save(nib.Nifti1Image(array.astype(np.uint8), np.eye(4)), str(path))
    return str(path)


def test_postprocessing_applied_only_where_it_raised_the_held_out_dice(tmp_path):
    """Class 1: predictions carry a false speck (keeping the largest component removes it: applied). Class 2: the
    truth has two components (keeping one loses the other: not applied, its scores unchanged)."""
    label = np.zeros((12, 12, 2), np.uint8)
    label[2:6, 2:6] = 1
    label[8:10, 8:10] = 2
    label[8:10, 0:2] = 2
    cases, pred_dirs = [], []
    for fold in range(2):
        pred_dir = tmp_path / f"oof{fold}"
        pred_dir.mkdir()
        pred = label.copy()
        pred[0, 11] = 1  # speck of class 1
        if fold == 1:
            pred[2:6, 2] = 0  # fold 1 is worse
        cases.append([{"case_id": f"c{fold}", "label": save(tmp_path / f"c{fold}_label.nii.gz", label)}])
        save(pred_dir / f"c{fold}.nii.gz", pred)
        pred_dirs.append(pred_dir)
    out = score_configuration(Configuration("unet", 2), ["r0", "r1"], cases, pred_dirs, [1, 2], tmp_path / "cases.csv")
    assert out.decision.classes == [1]
    assert out.decision.dice_after[1] > out.decision.dice_before[1]
    assert out.decision.dice_after[2] < out.decision.dice_before[2]
    assert all(pp > raw for pp, raw in zip(out.fold_dice_pp, out.fold_dice)), "fold means rise by class 1 only"
    assert out.fold_dice[0] > out.fold_dice[1]
    rows = list(csv.DictReader((tmp_path / "cases.csv").open()))
    assert len(rows) == 2
    for r in rows:
        assert float(r["dice_2_pp"]) == float(r["dice_2"]) == 1.0, "class 2 not post-processed"
        assert float(r["dice_1_pp"]) > float(r["dice_1"])
    with pytest.raises(FileNotFoundError, match="no prediction of validation case c0"):
        score_configuration(Configuration("unet", 2), ["r0"], cases[:1], [tmp_path], [1])


@pytest.mark.slow
def test_end_to_end_two_configurations_two_folds(twin, tmp_path, capsys):
    from monai.bundle import ConfigParser

    from engines.run_folder import cli_invocation
    from formats.nnunet_v2.readers import read_channel_file
    from scripts.find_best_configuration import main

    work = tmp_path / "work"
    argv = ["--dataset_dir", str(twin), "--bundles", "unet", "attention_unet", "--spatial_dims", "2", "3",
            "--num_folds", "2", "--work_dir", str(work), *TINY]
    start = time.perf_counter()
    assert main(argv) == 0
    first = time.perf_counter() - start
    printed = capsys.readouterr().out
    assert printed.count("trained in") == 4 and "[4/4] attention_unet_2d fold 1/2" in printed
    assert "| rank | configuration |" in printed and "python -m monai.bundle run" in printed

    # folds: disjoint, every case once; each fold predicted exactly its own validation cases
    folds = json.loads((work / "folds.json").read_text())
    assert sorted(sum(folds, [])) == sorted(p.name[: -len(".png")] for p in (twin / "labelsTr").glob("*.png"))
    assert not set(folds[0]) & set(folds[1])
    winner = json.loads((work / "winner.json").read_text())
    for fold, run in enumerate(winner["run_dirs"]):
        assert sorted(p.name.split(".")[0] for p in (Path(run) / "oof").glob("*.png")) == sorted(folds[fold])
        assert json.loads((Path(run) / "run.json").read_text())["overrides"]["fold"] == fold
        assert (Path(run) / "models" / "model.pt").is_file()

    # the ranking follows the scores; the winner is the first row; 3D skipped for this 2D data set
    rows = list(csv.DictReader((work / "best_configuration.csv").open()))
    assert [r["configuration"] for r in rows] == sorted([r["configuration"] for r in rows],
                                                        key=lambda n: -float(next(x for x in rows if x["configuration"] == n)["cv_dice_pp_mean"]))
    assert {r["configuration"] for r in rows} == {"unet_2d", "attention_unet_2d"}
    assert winner["configuration"] == rows[0]["configuration"]
    assert math.isclose(winner["cv_dice"], float(rows[0]["cv_dice_pp_mean"]))
    assert winner["cv_dice"] >= winner["cv_dice_without_postprocessing"] - 1e-12
    assert all(0.0 <= float(r["cv_dice_mean"]) <= 1.0 for r in rows)
    assert (work / "cv_dice.png").is_file() and (work / "best_configuration.md").is_file()

    # (a) the ensemble command, as printed, parsed as MONAI's CLI parses it and run in process: two members, label
    # maps in the test images' geometry
    files, overrides = cli_invocation(shlex.split(winner["infer_command"])[4:])
    assert files[-1] == "bundles/common/configs/any_dataset_ensemble.yaml" and len(overrides["ensemble"]) == 2
    parser = ConfigParser()
    parser.read_config([str(ROOT / f) for f in files])
    parser.update(overrides)
    with contextlib.chdir(ROOT):
        inferer = parser.get_parsed_content("infer#ensemble_inferer")
        assert len(inferer.networks) == 2
        parser.get_parsed_content("infer#evaluator").run()
    parser = ConfigParser()  # a decision for both classes reaches the post-processing, as training indices
    parser.read_config([str(ROOT / f) for f in files])
    parser.update({**overrides, "keep_largest": [2, 1]})
    with contextlib.chdir(ROOT):
        assert parser.get_parsed_content("infer#postprocessing").transforms[-1].channels == [2, 1]
    (test_image,) = sorted((twin / "imagesTs").glob("*_0000.png"))
    (pred,) = (work / "ensemble_pred").glob("*.nii.gz")
    assert read_channel_file(pred)[0].shape == read_channel_file(test_image)[0].shape

    # (b) the export command packages the configuration: the best fold's run, every fold's weights for the ensemble
    from scripts.package_bundle import main as package_main

    export = shlex.split(winner["export_command"])
    assert export[:3] == ["python", "scripts/package_bundle.py", "--run_dir"]
    assert export[3] == winner["run_dirs"][winner["best_fold"]]
    with contextlib.chdir(ROOT):
        assert package_main(export[2:]) == 0
    (archive,) = (work / "export").glob("*.zip")
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        name = names[0].split("/")[0]
        inference = yaml.safe_load(zf.read(f"{name}/configs/inference.yaml"))
    assert {f"{name}/models/{f}" for f in ("model.pt", "plan.json", "fold_0.pt", "fold_1.pt")} <= set(names)
    assert len(inference["ensemble"]) == 2 and inference["keep_largest"] == winner["postprocessing"]["keep_largest"]

    # again: the finished fold runs are reused, the results are the same
    start = time.perf_counter()
    assert main(argv) == 0
    again = time.perf_counter() - start
    assert capsys.readouterr().out.count("reused the finished run") == 4
    assert json.loads((work / "winner.json").read_text())["cv_dice"] == winner["cv_dice"]
    print(f"end to end: first call {first:.1f} s, second (reused) {again:.1f} s")


def test_script_refuses_bad_arguments_before_training(twin, tmp_path, capsys):
    from scripts.find_best_configuration import main

    base = ["--dataset_dir", str(twin), "--work_dir", str(tmp_path / "w")]
    assert main([*base, "--bundles", "no_such_net"]) == 1
    assert "unknown bundle(s) ['no_such_net']" in capsys.readouterr().err
    assert main([*base, "--num_folds", "9"]) == 1
    assert "num_folds" in capsys.readouterr().err
    assert main([*base, "--fold", "1"]) == 1
    assert "set by the model selection itself" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--epochs=2"])
    assert not (tmp_path / "w" / "runs").exists(), "nothing trained"


def test_region_based_configurations_are_scored_per_region(tmp_path):
    """A region-based plan: the scores are region Dice (the whole region counts every voxel of its labels), and
    the decision and the post-processed scores follow the region step (tests/experiments/test_postprocessing.py)."""
    from experiments.best_configuration import _plan_classes, case_dice

    plan = {"region_based": True, "labels": {"background": 0, "whole": [1, 2, 3], "core": [2, 3], "enh": 3},
            "regions_class_order": [1, 2, 3], "out_channels": 3}
    (tmp_path / "r0" / "models").mkdir(parents=True)
    (tmp_path / "r0" / "models" / "plan.json").write_text(json.dumps(plan))
    classes, regions = _plan_classes(tmp_path / "r0")
    assert classes == [1, 2, 3] and regions.order == (1, 2, 3)
    label = np.zeros((12, 12, 2), np.uint8)
    label[2:10, 2:10] = 1
    label[4:8, 3:5] = 2
    label[4:8, 5:7] = 3
    label[4:8, 7:8] = 2
    pred = label.copy()
    pred[0, 11] = 2  # a false core speck (inside the whole region's painted map, too)
    pred[4:8, 5:7] = 2  # the enhancing band predicted as core: whole and core still right
    dice = case_dice(pred, label, classes, regions)
    assert dice[1] == pytest.approx(2 * 128 / (130 + 128)) and dice[3] == 0.0  # the speck: 2 voxels (z 0, 1)
    assert math.isnan(case_dice(np.zeros_like(pred), np.zeros_like(label), [3], regions)[3])
    (tmp_path / "oof").mkdir()
    save(tmp_path / "oof" / "c0.nii.gz", pred)
    cases = [[{"case_id": "c0", "label": save(tmp_path / "c0_label.nii.gz", label)}]]
    out = score_configuration(Configuration("unet", 2), ["r0"], cases, [tmp_path / "oof"], classes, regions=regions)
    assert out.decision.classes == [2]
    assert out.fold_dice_pp[0] > out.fold_dice[0]
