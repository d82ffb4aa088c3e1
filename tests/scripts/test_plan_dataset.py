"""scripts/plan_dataset.py prints or writes the plan of a data set folder, with overrides; bad folders fail named."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from data.plan import read_plan
from formats.nnunet_v2.synthetic import generate_nnunet_v2

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _main():
    spec = importlib.util.spec_from_file_location("plan_dataset", SCRIPTS / "plan_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_print_write_and_override(tmp_path, capsys):
    root = generate_nnunet_v2(tmp_path / "raw", kind="ct", num_training=3, num_test=0)
    main = _main()
    cache = ["--cache_dir", str(tmp_path / "cache")]
    assert main([str(root), *cache]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["normalization"][0]["scheme"] == "ct" and plan["spatial_dims"] == 2
    out = tmp_path / "run" / "plan.json"
    assert main([str(root), *cache, "--spatial_dims", "3", "--set", "batch_size=3", "--out", str(out)]) == 0
    written = read_plan(out)
    assert written["spatial_dims"] == 3 and written["batch_size"] == 3 and len(written["patch_size"]) == 3
    assert main([str(root), *cache, "--set", "no_such_key=1"]) == 1
    assert "unknown plan key" in capsys.readouterr().err
    (root / "labelsTr" / "synthct_001.nii.gz").unlink()
    assert main([str(root), *cache]) == 1
    assert "synthct_001.nii.gz" in capsys.readouterr().err


def test_labels_groups_the_classes_of_the_plan(tmp_path, capsys):
    root = generate_nnunet_v2(tmp_path / "raw", kind="mri", num_training=3, num_test=0)  # fat 1, muscle 2, fluid 3
    main = _main()
    cache = ["--cache_dir", str(tmp_path / "cache")]
    assert main([str(root), *cache, "--labels", "{'background': 0, 'tissue': [1, 2, 3]}"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["class_names"] == ["tissue"] and plan["activation"] == "sigmoid" and plan["out_channels"] == 1
    assert main([str(root), *cache, "--labels", "{'background': 0, 'tissue': [1, 9]}"]) == 1
    assert str(root / "dataset.json") in capsys.readouterr().err
