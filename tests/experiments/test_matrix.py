"""The comparison matrix, its keys and the results table (no training)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from PIL import Image

from experiments import MatrixError, RunSpec, aggregate, expand_matrix, load_matrix, markdown_table, write_results
from experiments.results import COLUMNS
from experiments.runner import data_override

ROOT = Path(__file__).resolve().parents[2]


def test_expand_matrix_crosses_bundles_variants_losses_seeds():
    runs = expand_matrix(["unet", "attention_unet"], ["dice", "bce"], [0, 1], {"epochs": 1},
                         [{"name": "relu", "overrides": {}}, {"name": "prelu", "overrides": {"act": "prelu"}}], root=ROOT)
    assert len(runs) == 16
    assert len({r.key for r in runs}) == 16
    assert len({r.group for r in runs}) == 8  # seeds share a row
    assert runs[0] == RunSpec("unet", "dice", 0, "relu", {"epochs": 1})
    assert runs[2].loss == "bce" and runs[4].overrides == {"epochs": 1, "act": "prelu"}


def test_run_key_depends_on_everything_that_defines_the_run():
    base = RunSpec("unet", "dice", 0, "", {"epochs": 1, "features": 4})
    assert base.key == RunSpec("unet", "dice", 0, "", {"features": 4, "epochs": 1}).key  # order-free
    others = [RunSpec("attention_unet", "dice", 0, "", base.overrides), RunSpec("unet", "bce", 0, "", base.overrides),
              RunSpec("unet", "dice", 1, "", base.overrides), RunSpec("unet", "dice", 0, "", {"epochs": 2, "features": 4})]
    assert base.key not in {r.key for r in others}
    assert base.name == f"unet-dice-s0-{base.key}"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bundles": ["unet", "vnet"]}, r"unknown bundle\(s\) \['vnet'\]; valid: \['unet', 'attention_unet'"),
        ({"bundles": ["unet"], "losses": ["dice", "l2"]}, r"unknown loss\(es\) \['l2'\]; valid: \['bundle', 'bce'"),
        ({"bundles": ["unet"], "overrides": {"ckpt_dir": "x"}}, r"may not set \['ckpt_dir'\]"),
        ({"bundles": ["unet"], "seeds": []}, "at least one entry"),
        ({"bundles": ["unet", "unet"]}, "same run twice"),
    ],
)
def test_expand_matrix_names_what_is_wrong(kwargs, message):
    with pytest.raises(MatrixError, match=message):
        expand_matrix(root=ROOT, source="m.yaml", **kwargs)


def test_matrix_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("bundles: [unet]\nepoch: 3\n")
    with pytest.raises(MatrixError, match=rf"{bad}: unknown key\(s\) \['epoch'\]"):
        load_matrix(bad, root=ROOT)
    bad.write_text("bundles: unet\n")
    with pytest.raises(MatrixError, match=rf"{bad}: 'bundles' must be a list"):
        load_matrix(bad, root=ROOT)
    with pytest.raises(MatrixError, match="matrix file not found"):
        load_matrix(tmp_path / "missing.yaml", root=ROOT)


@pytest.mark.parametrize("name", ["seed000_architectures", "seed000_losses"])
def test_shipped_matrices_load(name):
    settings, runs = load_matrix(ROOT / f"experiments/matrices/{name}.yaml", root=ROOT)
    assert runs and settings["metric"]


def test_overrides_keep_the_bundle_blocks_and_replace_only_the_given_keys():
    files = ["bundles/unet/configs/train.yaml", "bundles/attention_unet/configs/variant.yaml"]
    data = data_override(files, ROOT, train_files=[{"image": "a"}], val_files=[])
    assert data == {"data#train_files": [{"image": "a"}], "data#val_files": []}  # nested keys: the rest is kept
    with pytest.raises(MatrixError, match=r"has no \[.eval_files.\]"):
        data_override(files, ROOT, eval_files=[])


def _result(bundle, loss, seed, iou, seconds):
    return {"group": f"{bundle}/{loss}", "bundle": bundle, "variant": "", "loss": loss, "seed": seed, "key": "k",
            "name": "n", "parameters": 1000, "epochs": 2, "best_epoch": 2, "best_val_iou": iou, "best_val_dice": iou,
            "test_iou": iou, "test_dice": iou, "test_accuracy": 0.9, "final_train_loss": 0.5,
            "train_time_per_epoch": seconds, "inference_time_per_case": 0.1}


def test_aggregate_means_sds_and_time_ratio(tmp_path):
    results = [_result("unet", "dice", 0, 0.5, 2.0), _result("unet", "dice", 1, 0.7, 4.0),
               _result("attention_unet", "dice", 0, 0.8, 9.0)]
    rows = aggregate(results, baseline="unet")
    assert [r["group"] for r in rows] == ["unet/dice", "attention_unet/dice"]
    assert math.isclose(rows[0]["test_iou_mean"], 0.6) and math.isclose(rows[0]["test_iou_sd"], 0.1414213, rel_tol=1e-5)
    assert math.isnan(rows[1]["test_iou_sd"]) and rows[1]["seeds"] == 1
    assert math.isclose(rows[1]["train_time_ratio"], 3.0)
    table = markdown_table(rows, "unet/dice")
    assert "| unet | dice | 1,000 | 2 | 2 | 0.6000 ± 0.1414 |" in table and "| 3.00x |" in table
    with pytest.raises(ValueError, match=r"baseline 'vnet' is not a row; rows: \['unet/dice'"):
        aggregate(results, baseline="vnet")
    write_results(results, tmp_path, baseline="unet", metric="test_iou")
    with open(tmp_path / "results.csv", newline="") as f:
        assert next(csv.reader(f)) == COLUMNS
    with Image.open(tmp_path / "test_iou.png") as png:
        assert png.size == (400, 360)


def test_script_reports_bad_input_with_the_file(tmp_path, capsys):
    from scripts.compare_variants import main

    bad = tmp_path / "m.yaml"
    bad.write_text("bundles: [unet, vnet]\n")
    assert main(["--matrix", str(bad), "--exp_dir", str(tmp_path / "exp")]) == 2
    assert f"{bad}: unknown bundle(s) ['vnet']" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--bundles", "unet", "--dataset_dir", str(empty), "--exp_dir", str(tmp_path / "exp")]) == 2
    assert f"{empty / 'dataset.json'}: dataset.json not found" in capsys.readouterr().err
    assert not (tmp_path / "exp" / "runs").exists()  # nothing ran
