"""Faults during training, through the stock `python -m monai.bundle` CLI on tiny data: a run killed with SIGKILL
resumes from its latest checkpoint without repeating or losing an iteration; two runs with the same seed give the
same losses; a non-finite loss stops the run and keeps the last good checkpoint; earlier results and inputs are
never written over."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import torch
import catalog

ROOT = Path(__file__).resolve().parents[2]
# 5 training cases x 12 slices at batch 16: 4 iterations per epoch; width 4, no parameter budget
TINY = [
    "--roi_size", "[32, 32]", "--target_params", "0", "--features", "4", "--batch_size", "16", "--device", "cpu",
    "--seed", "0",
]  # fmt: skip
ITERS = 4
# one intra-op thread: the runs are tiny, and two threads spinning against other processes are much slower
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
LOSS_LINE = re.compile(r"Epoch: (\d+)/(\d+), Iter: (\d+)/(\d+) -- train_loss: (\S+)")


def train_cmd(*args: str, config: str = "train.yaml") -> list[str]:
    config_file = str(catalog.config_files("unet", config.removesuffix(".yaml")))
    return [sys.executable, "-m", "monai.bundle", "run", "--config_file", config_file, *TINY, *args]


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=ENV)


def iterations(log: str) -> list[tuple[int, int]]:
    """(epoch, iteration in the epoch) of every logged training iteration."""
    return [(int(m[1]), int(m[3])) for m in LOSS_LINE.finditer(log)]


def tensorboard_losses(path: Path) -> dict[int, float]:
    """train_loss by global iteration in one TensorBoard event file (or folder)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(path), size_guidance={"scalars": 0})
    events.Reload()
    tags = events.Tags()["scalars"]
    return {e.step: e.value for e in events.Scalars("train_loss")} if "train_loss" in tags else {}


def test_sigkill_mid_epoch_then_resume_continues_from_the_checkpoint(synthetic_msd_dir, tmp_path):
    epochs = 4
    cmd = train_cmd("--dataset_dir", str(synthetic_msd_dir), "--epochs", str(epochs),
                    "--output_dir", str(tmp_path / "train"), "--ckpt_dir", str(tmp_path / "models"))  # fmt: skip
    ckpt = tmp_path / "models" / "checkpoint_epoch=2.pt"
    with open(tmp_path / "run1.err", "w") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True, env=ENV)
        log1 = []
        for line in proc.stdout:  # kill at the first iteration of epoch 3, once the checkpoint of epoch 2 is on disk
            log1.append(line)
            if ckpt.is_file() and iterations(line) == [(3, 1)]:
                os.kill(proc.pid, signal.SIGKILL)
                break
        log1.extend(proc.stdout)  # what it logged before the signal landed
        proc.stdout.close()
        assert proc.wait(timeout=60) == -signal.SIGKILL, "".join(log1)[-3000:]
    before = iterations("".join(log1))
    assert (3, 1) in before and (3, ITERS) not in before, f"not killed in the middle of epoch 3: {before}"
    assert sorted(p.name for p in (tmp_path / "models").glob("*.pt")) == ["checkpoint_epoch=2.pt", "model.pt"]

    events_before = set((tmp_path / "train").glob("events.out.tfevents.*"))
    resumed = run([*cmd, "--resume", "true"])  # the same command plus the resume flag
    log2 = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log2[-5000:]
    assert f"resuming from {ckpt}" in log2
    after = iterations(resumed.stdout)
    # it starts at the first iteration after the checkpoint
    assert after == [(e, i) for e in (3, 4) for i in range(1, ITERS + 1)]
    # nothing before the checkpoint lost or repeated: the checkpointed epochs of run 1, then run 2, run every
    # iteration once
    done = [it for it in before if it[0] <= 2] + after
    assert done == [(e, i) for e in range(1, epochs + 1) for i in range(1, ITERS + 1)]
    # TensorBoard of the resumed run: global iterations continue from the checkpoint's (8) to the end (16)
    resumed_losses = {}
    for path in set((tmp_path / "train").glob("events.out.tfevents.*")) - events_before:  # trainer's and validator's
        resumed_losses.update(tensorboard_losses(path))
    assert sorted(resumed_losses) == list(range(2 * ITERS + 1, epochs * ITERS + 1))
    state = torch.load(tmp_path / "models" / f"checkpoint_epoch={epochs}.pt", map_location="cpu", weights_only=True)
    assert {"model", "optimizer", "lr_scheduler", "trainer", "best_checkpoint"} <= set(state)
    assert state["trainer"]["iteration"] == epochs * ITERS and state["trainer"]["epoch_length"] == ITERS
    assert state["lr_scheduler"]["last_epoch"] == epochs, "the schedule was stepped once per epoch, resumed at 2"
    assert sorted(p.name for p in (tmp_path / "models").glob("*.pt")) == [f"checkpoint_epoch={epochs}.pt", "model.pt"]


def test_same_seed_same_losses(synthetic_msd_dir, tmp_path):
    losses = []
    for name in ("a", "b"):
        out = tmp_path / name
        cmd = train_cmd("--dataset_dir", str(synthetic_msd_dir), "--epochs", "2", "--output_dir", str(out),
                        "--ckpt_dir", str(out / "models"))  # fmt: skip
        proc = run(cmd)
        assert proc.returncode == 0, proc.stderr[-5000:]
        losses.append(tensorboard_losses(tmp_path / name))
    assert sorted(losses[0]) == list(range(1, 2 * ITERS + 1))
    assert losses[0] == losses[1], "bit-identical float32 losses at every iteration"
    for key in ("model", "optimizer"):  # and the same trained state
        a, b = (torch.load(tmp_path / n / "models" / "checkpoint_epoch=2.pt", weights_only=True)[key] for n in "ab")
        assert str(a) == str(b)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(synthetic_msd_dir, tmp_path):
    models = tmp_path / "models"
    common = ["--dataset_dir", str(synthetic_msd_dir), "--output_dir", str(tmp_path / "train"),
              "--ckpt_dir", str(models)]  # fmt: skip
    # the loss turns NaN at epoch 2, iteration 3
    nan_loss = "{'_target_': 'tests.bundles.nan_loss.NaNAfterCalls', 'calls': %d}" % (ITERS + 2)
    proc = run(train_cmd(*common, "--epochs", "3", "--loss", nan_loss))
    assert proc.returncode == 1, proc.stderr[-3000:]
    error = proc.stderr.rpartition("ERROR: ")[2].partition("\n")[0]  # the last lines: our message, not a trace
    assert proc.stderr.rstrip().split("\n")[-1].startswith("(full traceback in "), proc.stderr[-3000:]
    assert "the training loss is not finite (NaN or inf) at epoch 2, iteration 7" in error, proc.stderr[-3000:]
    assert f"The last good checkpoint is {models / 'checkpoint_epoch=1.pt'}" in error and "--resume true" in error
    assert sorted(p.name for p in models.iterdir()) == ["checkpoint_epoch=1.pt", "model.pt"]
    state = torch.load(models / "checkpoint_epoch=1.pt", map_location="cpu", weights_only=True)
    assert state["trainer"]["iteration"] == ITERS
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    best = torch.load(models / "model.pt", map_location="cpu", weights_only=True)
    assert all(torch.isfinite(v).all() for v in best.values() if v.is_floating_point())

    # the checkpoint is usable: the same command with the ordinary loss and --resume true finishes the run
    resumed = run(train_cmd(*common, "--epochs", "3", "--resume", "true"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert iterations(resumed.stdout) == [(e, i) for e in (2, 3) for i in range(1, ITERS + 1)]

    # a new run into the same folders is refused before anything is written, naming the flags
    before = {p: p.read_bytes() for p in models.iterdir()}
    refused = run(train_cmd(*common, "--epochs", "1"))
    assert refused.returncode == 1
    error = refused.stderr.rpartition("ERROR: ")[2]  # the last two lines: the message, where the traceback is
    assert len(error.rstrip().split("\n")) == 2 and error.rstrip().split("\n")[1].startswith("(full traceback in ")
    assert f"output folder {tmp_path / 'train'} already holds results" in error and "--overwrite true" in error
    assert "Epoch" not in refused.stdout
    assert {p: p.read_bytes() for p in models.iterdir()} == before


def test_inference_never_writes_among_its_inputs(synthetic_msd_dir, tmp_path):
    inside = Path(synthetic_msd_dir) / "imagesTs" / "pred"
    proc = run(train_cmd("--dataset_dir", str(synthetic_msd_dir), "--ckpt_dir", str(tmp_path), "--output_dir",
                         str(inside), "--overwrite", "true", config="inference.yaml"))  # fmt: skip
    assert proc.returncode == 1
    assert f"output folder {inside} is inside the input folder" in proc.stderr, proc.stderr[-3000:]
    assert not inside.exists()
