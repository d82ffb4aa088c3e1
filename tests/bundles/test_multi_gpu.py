"""Integration: configs/multi_gpu_train.yaml trains bundles/unet on 2 CPU processes (torchrun, gloo): one checkpoint
set written by rank 0, the ranks end with the same weights, validation is sharded but its metrics cover all cases,
and logging, TensorBoard and the progress bar run on rank 0 only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow
import catalog

ROOT = Path(__file__).resolve().parents[2]
TRAINABLE = ["unet", "brats_unet", "isbi_unet", "liver_improved_skip_unet", "figshare_unetplusplus"]
# 6 synthetic cases: val_fraction 0.34 gives 2 validation cases, one per rank; 4 training volumes x 12 slices
TINY = [
    "--roi_size", "[32, 32]", "--target_params", "0", "--features", "4", "--batch_size", "8", "--seed", "0",
    "--val_fraction", "0.34",
]  # fmt: skip


def multi_gpu_files(bundle: str, variant: str | None = None) -> list[str]:
    """The config list of a multi-process run, as the bundles' multi_gpu_train.yaml documents it (catalog)."""
    return catalog.config_files(variant or bundle, "multi_gpu_train")


@pytest.mark.parametrize("bundle", TRAINABLE)
def test_every_trainable_bundle_has_a_thin_multi_gpu_override(bundle, monkeypatch):
    monkeypatch.chdir(ROOT)
    parser = ConfigParser()
    parser.read_config(multi_gpu_files(bundle))
    parser.parse()  # resolves the macros into the shared fragment
    assert parser["network"]["_target_"] == "torch.nn.parallel.DistributedDataParallel"
    assert "init_process_group" in " ".join(parser["initialize"])
    assert "destroy_process_group" in " ".join(parser["finalize"])
    text = (ROOT / f"bundles/{bundle}/configs/multi_gpu_train.yaml").read_text()
    assert len([line for line in text.splitlines() if line and not line.startswith("#")]) == 6, "thin: macros only"


def test_variant_three_file_list(monkeypatch):
    monkeypatch.chdir(ROOT)
    parser = ConfigParser()
    parser.read_config(multi_gpu_files("unet", variant="nas_unet"))
    parser.parse()
    assert parser["conv_block"] == "nasnet_normal" and parser["bundle_root"] == "bundles/nas_unet"
    assert parser["network"]["_target_"] == "torch.nn.parallel.DistributedDataParallel"


def _rank_logs(log_dir: Path) -> dict[int, str]:
    """stdout + stderr of each rank from torchrun's --log_dir (layout <run id>/attempt_0/<rank>/std*.log)."""
    logs = {}
    for rank in (0, 1):
        files = sorted(log_dir.glob(f"*/attempt_*/{rank}/std*.log"))
        assert files, f"no logs of rank {rank} in {log_dir}"
        logs[rank] = "".join(f.read_text(errors="replace") for f in files)
    return logs


# a `run` step after training that saves each rank's final weights as <out>/rank<R>.pt (format with out=...)
SAVE_WEIGHTS = "$torch.save(@network.module.state_dict(), '{out}/rank' + str(dist.get_rank()) + '.pt')"


def run_two_ranks(files: list[str], out: Path, args: list[str], after_training: str) -> dict[int, str]:
    """``monai.bundle run`` of ``files`` on 2 gloo processes (torchrun) with ``--ckpt_dir <out>/models
    --output_dir <out>/runs --epochs 1`` and ``args``, plus a last config whose ``run`` trains and then evaluates the
    expression ``after_training`` on each rank. Asserts that it succeeds; returns each rank's stdout + stderr."""
    (out / "dump.json").write_text(json.dumps({"run": ["$@train#trainer.run()", after_training]}))
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=2",
        "--log_dir", str(out / "logs"), "--redirects", "3",
        "-m", "monai.bundle", "run", "--config_file", str([*files, str(out / "dump.json")]),
        "--ckpt_dir", str(out / "models"), "--output_dir", str(out / "runs"), "--epochs", "1", *args,
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    logs = _rank_logs(out / "logs") if (out / "logs").exists() else {}
    tails = "\n".join(v[-3000:] for v in logs.values())
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr[-3000:]}\n{tails}"
    return logs


@pytest.fixture(scope="module")
def ddp_run(synthetic_msd_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    # after training, each rank records its final weights and validation state for the test
    record = (
        "$torch.save({'weights': @network.module.state_dict(), 'metrics': dict(@validate#evaluator.state.metrics), "
        f"'val_iterations': @validate#evaluator.state.iteration}}, '{out}/rank' + str(dist.get_rank()) + '.pt')"
    )
    logs = run_two_ranks(multi_gpu_files("unet"), out, ["--dataset_dir", str(synthetic_msd_dir), *TINY], record)
    return out, logs


def test_one_checkpoint_set_and_the_ranks_agree(ddp_run):
    out, _ = ddp_run
    assert sorted(p.name for p in (out / "models").iterdir()) == ["checkpoint_epoch=1.pt", "model.pt"]
    ranks = [torch.load(out / f"rank{r}.pt", map_location="cpu", weights_only=True) for r in (0, 1)]
    w0, w1 = ranks[0]["weights"], ranks[1]["weights"]
    assert w0.keys() == w1.keys()
    for name in w0:
        assert torch.equal(w0[name], w1[name]), f"rank 1 differs from rank 0 in {name}"
    # the files hold the plain network (no DDP "module." prefix), the final weights of this 1-epoch run
    best = torch.load(out / "models" / "model.pt", map_location="cpu", weights_only=True)
    latest = torch.load(out / "models" / "checkpoint_epoch=1.pt", map_location="cpu", weights_only=True)
    for state in (best, latest["model"]):
        assert state.keys() == w0.keys() and all(torch.equal(state[k], w0[k]) for k in w0)


def test_validation_is_sharded_and_its_metrics_cover_all_cases(ddp_run, synthetic_msd_dir, monkeypatch):
    """Each rank validated one of the 2 cases, yet both report the mean over both, equal to a 1-process evaluation."""
    out, _ = ddp_run
    ranks = [torch.load(out / f"rank{r}.pt", map_location="cpu", weights_only=True) for r in (0, 1)]
    assert [r["val_iterations"] for r in ranks] == [1, 1], "one validation volume per rank"
    assert ranks[0]["metrics"] == ranks[1]["metrics"]
    monkeypatch.chdir(ROOT)
    workflow = ConfigWorkflow(  # what `python -m monai.bundle run` does, in this process
        config_file=catalog.config_files("unet", "evaluate"), workflow_type="infer", dataset_dir=str(synthetic_msd_dir),
        ckpt_dir=str(out / "models"), output_dir=str(out / "eval"), device="cpu", roi_size=[32, 32], target_params=0,
        features=4, batch_size=8, seed=0, val_fraction=0.34,
    )  # fmt: skip
    workflow.initialize()
    workflow.run()
    evaluator = workflow.parser.get_parsed_content("evaluate#evaluator")
    assert evaluator.state.iteration == 2
    for name in ("val_mean_iou", "val_mean_dice"):
        assert ranks[0]["metrics"][name] == pytest.approx(evaluator.state.metrics[name], abs=1e-6), name


def test_logging_tensorboard_and_progress_on_rank_0_only(ddp_run):
    out, logs = ddp_run
    for marker in ("train_loss", "Key metric", "loss=", "validation picture"):  # loss= is on the progress bar
        assert marker in logs[0], f"rank 0 lacks {marker!r}"
        assert marker not in logs[1], f"rank 1 logs {marker!r}"
    events = list((out / "runs").glob("events.out.tfevents.*"))
    assert events and len({e.name.split(".")[-2] for e in events}) == 1, "TensorBoard files of one process only"
    assert [p.name for p in (out / "runs" / "pictures").iterdir()] == ["validation_epoch001.png"]


def _brats_data(root: Path) -> tuple[Path, list[str]]:
    from formats.brats2020.synthetic import generate_brats2020

    data = generate_brats2020(root, 6, (32, 32, 12), seed=0)
    return data, ["--image_size", "[32, 32]", "--slice_start", "0", "--slice_stop", "12", "--features", "4",
                  "--batch_size", "8", "--split_fractions", "[2, 2, 2]"]  # fmt: skip


def _isbi_data(root: Path) -> tuple[Path, list[str]]:
    from formats.isbi2012.synthetic import generate_isbi2012

    data = generate_isbi2012(root, num_pages=6, size=64, seed=0, with_test=False)
    return data, ["--num_pages", "0", "--split_fractions", "[2, 2, 2]", "--depth", "2", "--features", "4",
                  "--tile_size", "20", "--samples_per_epoch", "8", "--batch_size", "2", "--norm", "batch"]  # fmt: skip


@pytest.mark.parametrize("bundle, make_data", [("brats_unet", _brats_data), ("isbi_unet", _isbi_data)])
def test_two_processes_write_one_checkpoint_set_and_agree(bundle, make_data, tmp_path):
    """The multi-class BraTS and the valid-padding ISBI bundles on 2 gloo processes: one checkpoint set, the ranks'
    final weights equal."""
    data, tiny = make_data(tmp_path / "data")
    run_two_ranks(multi_gpu_files(bundle), tmp_path, ["--dataset_dir", str(data), *tiny], SAVE_WEIGHTS.format(out=tmp_path))
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["checkpoint_epoch=1.pt", "model.pt"]
    w0, w1 = (torch.load(tmp_path / f"rank{r}.pt", map_location="cpu", weights_only=True) for r in (0, 1))
    assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0)


def test_a_new_distributed_run_is_refused_over_earlier_results(ddp_run, synthetic_msd_dir, tmp_path):
    """train.yaml's output guard holds under torchrun too: rank 0 checks before any rank trains, and nothing of the
    earlier run is touched."""
    out, _ = ddp_run
    before = {p: p.read_bytes() for p in (out / "models").iterdir()}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=2",
        "--log_dir", str(tmp_path / "logs"), "--redirects", "3",
        "-m", "monai.bundle", "run", "--config_file", str(multi_gpu_files("unet")),
        "--ckpt_dir", str(out / "models"), "--output_dir", str(out / "runs"), "--epochs", "1",
        "--dataset_dir", str(synthetic_msd_dir), *TINY,
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    logs = "\n".join(_rank_logs(tmp_path / "logs").values())
    assert "already holds results" in logs and "Epoch[1]" not in logs, logs[-3000:]
    assert {p: p.read_bytes() for p in (out / "models").iterdir()} == before
