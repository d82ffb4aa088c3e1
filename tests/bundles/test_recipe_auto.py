"""`recipe` of a base bundle (engines/recipes.py), through `monai.bundle.run` in this process as the CLI runs it:
`--recipe default` puts the seed's own data set through the generic path (one run folder, the generic config list
recorded); `--recipe seed` keeps the seed's recipe on another data set, which then fails the seed's checks naming the
file, and nothing is written into the data set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import monai.bundle
import pytest

from data.errors import DatasetError
from engines.run_folder import RUNS_ROOT_ENV
from formats import FORMATS

ROOT = Path(__file__).resolve().parents[2]
TRAIN = "bundles/unet/configs/train.yaml"
TINY = {
    "epochs": 1, "iterations_per_epoch": 1, "plan#features": 4, "plan#batch_size": 2, "plan#patch_size": [32, 32],
    "val_fraction": 0.34, "device": "cpu", "num_workers": 0, "seed": 0,
}  # fmt: skip


def run_folders(runs_root: Path) -> list[Path]:
    return sorted(p.parent for p in runs_root.glob("*/*/run.json"))


def cause(error: BaseException, kind: type) -> BaseException | None:
    """The first exception of type ``kind`` in ``error``'s chain (MONAI wraps ours in RuntimeError; the CLI's
    excepthook prints ours alone)."""
    while error is not None and not isinstance(error, kind):
        error = error.__cause__
    return error


def test_recipe_default_runs_the_seed_data_through_the_generic_path(synthetic_msd_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(RUNS_ROOT_ENV, str(tmp_path / "runs"))
    monai.bundle.run(
        config_file=TRAIN, dataset_dir=str(synthetic_msd_dir), recipe="default",
        fingerprint_dir=str(tmp_path / "fingerprints"), **TINY,
    )  # fmt: skip
    (run,) = run_folders(tmp_path / "runs")  # the seed's run did not start a folder of its own
    record = json.loads((run / "run.json").read_text())
    assert record["config_files"] == [TRAIN, "bundles/common/configs/any_dataset.yaml"]
    assert "recipe" not in record["overrides"], "the handed-over run is the generic path itself"
    plan = json.loads((run / "models" / "plan.json").read_text())
    assert plan["in_channels"] == 4 and plan["out_channels"] == 4, "MSD Task01's 4 modalities and 4 classes"
    assert (run / "configs" / "evaluate.yaml").is_file()
    assert "any_dataset_evaluate.yaml" in (run / "configs" / "evaluate.yaml").read_text().splitlines()[0]


def test_recipe_seed_keeps_the_seeds_checks_on_another_data_set(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(RUNS_ROOT_ENV, str(tmp_path / "runs"))
    other = FORMATS.get("nnunet_v2").synthesize(tmp_path / "nnunet", kind="ct", num_training=2, num_test=0)
    before = sorted(str(p) for p in other.rglob("*"))
    with pytest.raises(RuntimeError) as info:
        monai.bundle.run(config_file=TRAIN, dataset_dir=str(other), recipe="seed", **TINY)
    error = cause(info.value, DatasetError)
    assert error is not None and str(other / "dataset.json") in str(error), info.value
    assert sorted(str(p) for p in other.rglob("*")) == before, "nothing written into the data set"


def test_an_unknown_recipe_is_one_line_listing_the_valid_ones(synthetic_msd_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(RUNS_ROOT_ENV, str(tmp_path / "runs"))
    from engines.recipes import RecipeError

    with pytest.raises(RuntimeError) as info:
        monai.bundle.run(config_file=TRAIN, dataset_dir=str(synthetic_msd_dir), recipe="paper", **TINY)
    assert "auto, seed, default" in str(cause(info.value, RecipeError))
    assert not os.path.exists(tmp_path / "runs")
