"""Run folders: the command line's overrides name the run, a new run never reuses a folder, the record holds
self-contained configs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from engines.run_folder import (
    RunFolderError, cli_invocation, find_run_dir, new_run_dir, record_run, run_name_from_overrides,
)

ROOT = Path(__file__).resolve().parents[2]


def test_cli_invocation_parses_like_monai():
    argv = ["run", "--config_file", "['a/train.yaml','b/variant.yaml']", "--epochs", "2", "--act=prelu",
            "--roi_size", "[32, 32]", "--plan#patch_size", "[16, 16]"]  # fmt: skip
    files, overrides = cli_invocation(argv)
    assert files == ["a/train.yaml", "b/variant.yaml"]
    assert overrides == {"epochs": 2, "act": "prelu", "roi_size": [32, 32], "plan#patch_size": [16, 16]}
    assert cli_invocation(["run", "--epochs", "2"]) is None
    assert cli_invocation(["run", "--config_file", "x/train.yaml"])[0] == ["x/train.yaml"]


def test_run_name_from_overrides():
    assert run_name_from_overrides({"act": "prelu", "dropout": 0.2, "dataset_dir": "/d", "device": "cpu"}) == (
        "act-prelu_dropout-0.2"
    )
    assert run_name_from_overrides({"dataset_dir": "/d"}) == "default"
    assert run_name_from_overrides({"dropout": [0, 0.5]}) == "dropout-0-0.5"
    long = run_name_from_overrides({f"key{i}": "v" * 30 for i in range(10)})
    assert len(long) <= 80


def test_new_run_dir_never_reuses_a_folder_and_resume_takes_the_newest(tmp_path):
    first = Path(new_run_dir(tmp_path, "bundles/unet", run_name="abl"))
    assert first == tmp_path / "unet" / "abl" and not first.exists(), "named, not created"
    first.mkdir(parents=True)
    assert Path(new_run_dir(tmp_path, "bundles/unet", run_name="abl")) == first, "an empty folder is free"
    (first / "run.json").write_text("{}")
    second = Path(new_run_dir(tmp_path, "bundles/unet", run_name="abl"))
    assert second.name == "abl-2"
    second.mkdir()
    (second / "run.json").write_text("{}")
    assert Path(new_run_dir(tmp_path, "bundles/unet", run_name="abl", resume="true")) == second
    assert Path(new_run_dir(tmp_path, "bundles/unet", run_name="abl", unique=False)) == first


def test_record_run_writes_self_contained_configs(tmp_path, monkeypatch):
    argv = ["monai.bundle", "run", "--config_file", "bundles/unet/configs/train.yaml", "--features", "4",
            "--target_params", "0", "--dataset_dir", str(tmp_path)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.chdir(ROOT)
    run = record_run(tmp_path / "run", workflows={"train": {}}, extra={"note": "x"})
    record = json.loads((run / "run.json").read_text())
    assert record["overrides"]["features"] == 4 and record["note"] == "x" and record["versions"]["torch"]
    config = yaml.safe_load((run / "configs" / "train.yaml").read_text())
    assert config["features"] == 4 and config["ckpt_dir"] == str(run / "models") and config["run_dir"] == str(run)
    assert not any(isinstance(v, str) and v.startswith("%") for v in config.values()), "macros resolved"
    assert (run / "configs" / "metadata.json").is_file()


def test_the_folder_keeps_the_whole_run_name(tmp_path):
    """A name from several overrides is kept whole (only characters a folder cannot hold are replaced)."""
    name = run_name_from_overrides({"act": "prelu", "dropout": 0.2, "norm": "none", "features": 32})
    assert name == "act-prelu_dropout-0.2_features-32_norm-none"
    assert Path(new_run_dir(tmp_path, "bundles/unet", run_name=name)).name == name
    assert Path(new_run_dir(tmp_path, "bundles/unet", run_name="my run/1")).name == "my-run-1"


def test_find_run_dir_takes_a_run_of_the_data_set_asked_about(tmp_path, monkeypatch):
    """One bundle trains on many data sets (recipe auto): evaluation of data set B never picks the newer run of A."""
    monkeypatch.setattr(sys, "argv", ["monai.bundle", "run", "--config_file", "bundles/unet/configs/train.yaml"])
    monkeypatch.chdir(ROOT)
    data_a, data_b = tmp_path / "A", tmp_path / "B"
    data_a.mkdir(), data_b.mkdir()
    run_b = record_run(tmp_path / "runs" / "unet" / "default", workflows={}, dataset_dir=data_b)
    run_a = record_run(tmp_path / "runs" / "unet" / "default-2", workflows={}, dataset_dir=data_a)
    assert json.loads((run_a / "run.json").read_text())["dataset_dir"] == str(data_a.resolve())
    assert Path(find_run_dir(tmp_path / "runs", "bundles/unet", dataset_dir=data_b)) == run_b
    assert Path(find_run_dir(tmp_path / "runs", "bundles/unet", dataset_dir=str(data_a) + "/")) == run_a
    assert Path(find_run_dir(tmp_path / "runs", "bundles/unet")) in (run_a, run_b), "no data set given: any"
    with pytest.raises(RunFolderError) as info:
        find_run_dir(tmp_path / "runs", "bundles/unet", dataset_dir=tmp_path / "C")
    message = str(info.value)
    assert f"no training run on {tmp_path / 'C'}" in message and "--run_dir" in message
    assert f"trained on other data sets or recipes: default ({data_b.resolve()}), default-2 ({data_a.resolve()})" in message


def test_find_run_dir_keeps_the_seeds_and_the_generic_paths_runs_apart(tmp_path, monkeypatch):
    """On the seed's data set, `--recipe default` trains the generic path; the seed's evaluation must not take it."""
    monkeypatch.setattr(sys, "argv", ["monai.bundle", "run", "--config_file", "bundles/unet/configs/train.yaml"])
    monkeypatch.chdir(ROOT)
    seed = record_run(tmp_path / "runs" / "unet" / "default", workflows={}, dataset_dir=tmp_path, recipe="auto")
    generic = record_run(tmp_path / "runs" / "unet" / "default-2", workflows={}, dataset_dir=tmp_path, recipe="default")
    assert json.loads((seed / "run.json").read_text())["recipe"] == "seed"
    assert Path(find_run_dir(tmp_path / "runs", "bundles/unet", dataset_dir=tmp_path, recipe="auto")) == seed
    assert Path(find_run_dir(tmp_path / "runs", "bundles/unet", dataset_dir=tmp_path, recipe="seed")) == seed
    assert Path(find_run_dir(tmp_path / "runs", "bundles/unet", dataset_dir=tmp_path, recipe="default")) == generic
