"""Runs a user can repeat (issue 20): every training run gets its own folder under runs/<bundle>/ holding its configs
and record; the README's ablation lines run one after the other without clashing; evaluation, inference, export and
packaging take the run folder and need no other override; a resumed run continues its own folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import catalog

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--roi_size", "[32, 32]", "--target_params", "0", "--features", "4", "--batch_size", "8", "--device", "cpu",
        "--seed", "0", "--epochs", "1"]  # fmt: skip


def run(cmd: list[str], runs_root: Path, ok: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, UNET_RUNS_ROOT=str(runs_root), OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    if ok:
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def bundle(workflow: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(catalog.config_files("unet", workflow)),
            *args]  # fmt: skip


def readme_ablations() -> list[list[str]]:
    """The override lines of the README's "Seed 001's ablations" block (`$T --act prelu ...`)."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("### Seed 001's ablations"):]
    block = block[block.index("```bash") : block.index("```", block.index("```bash") + 7)]
    lines = [line.split("#")[0].strip() for line in block.splitlines() if line.startswith("$T ")]
    return [shlex.split(line)[1:] for line in lines]


@pytest.fixture(scope="module")
def runs(synthetic_msd_dir, tmp_path_factory) -> Path:
    """The README's ablation lines, as written plus the tiny settings, one after the other."""
    root = tmp_path_factory.mktemp("runs")
    ablations = readme_ablations()
    assert len(ablations) == 5 and ["--act", "prelu"] in ablations
    for overrides in ablations:
        run(bundle("train", "--dataset_dir", str(synthetic_msd_dir), *TINY, *overrides), root)
    return root


def _folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "unet").glob("*/run.json"))


def test_each_ablation_line_gets_its_own_run_folder_with_its_record(runs):
    folders = _folders(runs)
    assert len(folders) == 5, [f.name for f in folders]
    prelu = next(f for f in folders if "act-prelu" in f.name)
    record = json.loads((prelu / "run.json").read_text())
    assert record["overrides"]["act"] == "prelu" and record["git_commit"] and record["versions"]["monai"]
    assert record["config_files"] == catalog.config_files("unet", "train")
    assert (prelu / "models" / "model.pt").is_file() and list((prelu / "train").glob("events.out.tfevents.*"))
    for workflow in ("train", "evaluate", "inference"):
        assert (prelu / "configs" / f"{workflow}.yaml").is_file(), workflow


def test_evaluate_and_infer_find_the_run_trained_with_their_overrides(runs, synthetic_msd_dir):
    run(bundle("evaluate", "--dataset_dir", str(synthetic_msd_dir), *TINY, "--act", "prelu"), runs)
    prelu = next(f for f in _folders(runs) if "act-prelu" in f.name)
    assert (prelu / "eval" / "metrics.csv").is_file(), "evaluated into the run trained with --act prelu"
    assert not any((f / "eval").exists() for f in _folders(runs) if f != prelu)
    # the run folder's own inference config needs no override at all
    config = str(prelu / "configs" / "inference.yaml")
    run([sys.executable, "-m", "monai.bundle", "run", "--config_file", config, "--max_cases", "1"], runs)
    assert len(list((prelu / "pred").glob("*_seg.nii.gz"))) == 1


def test_no_fitting_run_is_one_line_naming_the_runs_folder(runs, synthetic_msd_dir):
    proc = run(bundle("evaluate", "--dataset_dir", str(synthetic_msd_dir), *TINY, "--act", "elu"), runs, ok=False)
    assert proc.returncode == 1
    error = proc.stderr.rpartition("ERROR: ")[2]
    assert f"{runs / 'unet'}: no training run on " in error and "trained with" in error, proc.stderr[-2000:]
    assert "--run_dir" in error


def test_export_and_packaging_take_the_run_folder(runs, tmp_path):
    prelu = next(f for f in _folders(runs) if "act-prelu" in f.name)
    configs = prelu / "configs"
    run([sys.executable, "-m", "monai.bundle", "ckpt_export", "network_def", "--filepath", str(tmp_path / "model.ts"),
         "--ckpt_file", str(prelu / "models" / "model.pt"), "--meta_file", str(configs / "metadata.json"),
         "--config_file", str(configs / "inference.yaml")], runs)  # fmt: skip
    assert (tmp_path / "model.ts").is_file()
    proc = run([sys.executable, "scripts/package_bundle.py", "--run_dir", str(prelu), "--out", str(tmp_path)], runs)
    archive = Path(proc.stdout.strip().splitlines()[-1])
    with zipfile.ZipFile(archive) as zf:
        import yaml

        inference = yaml.safe_load(zf.read("unet/configs/inference.yaml"))
    assert inference["act"] == "prelu" and inference["features"] == 4, "the run's overrides travel with the model"


def test_a_new_run_never_reuses_a_folder_and_resume_continues_its_own(runs, synthetic_msd_dir):
    before = _folders(runs)
    run(bundle("train", "--dataset_dir", str(synthetic_msd_dir), *TINY, "--act", "prelu"), runs)
    after = _folders(runs)
    new = sorted(set(after) - set(before))
    assert len(new) == 1 and re.search(r"act-prelu.*-2$", new[0].name), [f.name for f in after]
    run(bundle("train", "--dataset_dir", str(synthetic_msd_dir), *TINY[:-2], "--epochs", "2", "--act", "prelu",
               "--resume", "true", "--run_name", new[0].name.rsplit("-", 1)[0]), runs)  # fmt: skip
    assert _folders(runs) == after, "resumed in place"
    assert (new[0] / "models" / "checkpoint_epoch=2.pt").is_file()
