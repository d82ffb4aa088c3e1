"""Preflight checks (engines/preflight.py) and the disk-full error of checkpoint saves (engines/checkpoint.py).

The tests run as root, which ignores mode bits. The writability check runs in a forked child that drops to an
unprivileged user (``nobody``); the bundle run (a new interpreter, which lives under root's home here) runs as root
without the capabilities that bypass mode bits (``capsh --drop=cap_dac_override,cap_dac_read_search``)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from ignite.engine import Engine, Events

from engines import CheckpointWriteError, LatestCheckpointHandler, PreflightError, check_before_run, check_tile_fits
from engines.preflight import CHECKPOINT_FACTOR, check_writable, checkpoint_bytes
from formats.msd.synthetic import generate_msd_task01

ROOT = Path(__file__).resolve().parents[2]


def _unprivileged() -> pwd.struct_passwd | None:
    for name in ("nobody", "daemon"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


USER = _unprivileged()
CAPSH = shutil.which("capsh")


def run_as_user(func, *args) -> list:
    """``func(*args)`` in a forked child running as :data:`USER`; returns what it returned (JSON) or raises."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the user, run, report, exit without running pytest's cleanup
        status = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(USER.pw_gid)
            os.setuid(USER.pw_uid)
            result = {"ok": func(*args)}
        except BaseException as err:  # noqa: BLE001 - reported to the parent
            result, status = {"error": f"{type(err).__name__}: {err}"}, 1
        os.write(write, json.dumps(result).encode())
        os._exit(status)
    os.close(write)
    with os.fdopen(read) as f:
        result = json.loads(f.read() or '{"error": "no answer"}')
    os.waitpid(pid, 0)
    return result


def _check_each(folders: list[str]) -> list[str]:
    out = []
    for folder in folders:
        try:
            check_writable(folder)
            out.append("OK")
        except PreflightError as err:
            out.append(f"REFUSED {err}")
    return out


@pytest.mark.skipif(os.geteuid() != 0 or USER is None, reason="needs root and an unprivileged user to drop to")
def test_read_only_folder_is_refused_for_an_unprivileged_user(tmp_path):
    # pytest's folders are root's only: let the user in for the test
    opened = [p for p in (tmp_path, *tmp_path.parents) if str(p).startswith(tempfile.gettempdir() + "/pytest-of-")]
    modes = {p: p.stat().st_mode & 0o7777 for p in opened}
    for p in opened:
        p.chmod(0o755)
    try:
        _check_read_only_as_user(tmp_path)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def _check_read_only_as_user(tmp_path: Path) -> None:
    ok, read_only = tmp_path / "ok", tmp_path / "read_only"
    for folder in (ok, read_only):
        folder.mkdir()
    ok.chmod(0o777)
    read_only.chmod(0o555)
    folders = [ok, ok / "new" / "deeper", read_only, read_only / "sub"]
    result = run_as_user(_check_each, [str(f) for f in folders])
    assert "ok" in result, result
    answers = result["ok"]
    assert answers[:2] == ["OK", "OK"] and os.listdir(ok) == []  # nothing left behind
    assert answers[2].startswith(f"REFUSED output folder {read_only} is not writable: Permission denied")
    assert "--ckpt_dir" in answers[2]
    assert f"output folder {read_only / 'sub'} is not writable (it would be created in {read_only})" in answers[3]
    # root itself is not refused (mode bits do not apply to it): the check is a real write, not a look at the mode
    check_writable(read_only)


@pytest.mark.skipif(os.geteuid() != 0 or CAPSH is None, reason="needs root and capsh to drop the DAC capabilities")
def test_read_only_checkpoint_folder_fails_before_the_first_epoch(synthetic_msd_dir, tmp_path):
    out, models = tmp_path / "runs", tmp_path / "models"
    models.mkdir(mode=0o555)
    models.chmod(0o555)
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", "bundles/unet/configs/train.yaml",
           "--dataset_dir", str(synthetic_msd_dir), "--output_dir", str(out), "--ckpt_dir", str(models),
           "--roi_size", "[32, 32]", "--target_params", "0", "--features", "4", "--batch_size", "16",
           "--device", "cpu", "--epochs", "1"]  # fmt: skip
    shell = " ".join(f"'{c}'" for c in cmd)
    proc = subprocess.run([CAPSH, "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", shell], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)})  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    tail = proc.stderr.rstrip().split("\n")[-2:]
    assert tail[0].startswith(f"ERROR: output folder {models} is not writable: Permission denied"), proc.stderr[-3000:]
    assert "Epoch" not in proc.stdout + proc.stderr, "training started"
    assert (out / "traceback.log").is_file() and os.listdir(models) == []


def test_free_space_is_estimated_from_the_model(tmp_path, monkeypatch):
    net = torch.nn.Linear(100, 10)  # 1010 float32 parameters: 4040 bytes
    assert checkpoint_bytes(net) == 4040
    free = {"bytes": 10**12}
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(1, 1, free["bytes"]))
    check_before_run([tmp_path / "runs", tmp_path / "models"], ckpt_dir=tmp_path / "models", network=net)
    free["bytes"] = 4040 * CHECKPOINT_FACTOR - 1
    with pytest.raises(PreflightError) as err:
        check_before_run([tmp_path / "runs", tmp_path / "models"], ckpt_dir=tmp_path / "models", network=net)
    message = str(err.value)
    assert f"in {tmp_path / 'models'}: about" in message and f"({4040 * CHECKPOINT_FACTOR} bytes) needed" in message
    assert "--ckpt_dir" in message and not (tmp_path / "models").exists()


def test_checkpoint_handler_checks_the_space_before_the_first_epoch(tmp_path, monkeypatch):
    net = torch.nn.Linear(100, 10)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    epochs = []
    trainer = Engine(lambda engine, batch: 0.0)
    trainer.add_event_handler(Events.EPOCH_STARTED, lambda engine: epochs.append(engine.state.epoch))
    LatestCheckpointHandler(ckpt_dir=str(tmp_path / "models"), save_dict={"model": net, "optimizer": opt}).attach(trainer)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(1, 1, 4040 * CHECKPOINT_FACTOR - 1))
    with pytest.raises(PreflightError, match=f"not enough free space for the checkpoints .* in {tmp_path / 'models'}"):
        trainer.run([0], max_epochs=1)
    assert epochs == [] and not list((tmp_path / "models").glob("*"))  # (the saver creates the folder on attach)


def test_isbi_page_smaller_than_a_tile_names_the_smallest_size(tmp_path):
    import tifffile

    from networks import ModularUNet

    def stack(size: int) -> Path:
        path = tmp_path / f"pages{size}.tif"
        tifffile.imwrite(path, np.zeros((2, size, size), np.uint8))
        return path

    def unet_2015():  # the size arithmetic of the 2015 U-Net (depth 4, valid padding): 572 -> 388
        return ModularUNet(spatial_dims=2, in_channels=1, out_channels=1, features=1, depth=4, padding="valid")

    check_tile_fits(stack(512), 388, unet_2015)
    with pytest.raises(PreflightError) as err:
        check_tile_fits(stack(64), 388, unet_2015)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'pages64.tif'}: pages of (64, 64) pixels are smaller than a training tile")
    assert "(network input 572, output 388, 92 px of mirrored context)" in message
    assert "at least 388 x 388" in message and "--tile_size" in message
    small = ModularUNet(spatial_dims=2, in_channels=1, out_channels=1, features=1, depth=2, padding="valid")
    with pytest.raises(PreflightError, match="at least 21 x 21"):  # tile 20 -> input 60: the 20 px context decides
        check_tile_fits(stack(20), 20, small)
    check_tile_fits(stack(21), 20, small)
    check_tile_fits(tmp_path / "missing.tif", 388, unet_2015)  # unreadable: left to the data checks
    # the factory runs with the random state restored: the run's seeded stream is untouched
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    check_tile_fits(stack(512), 388, unet_2015)
    assert torch.equal(torch.rand(3), expected)


def test_isbi_bundle_refuses_small_pages_in_one_line(tmp_path):
    from formats.isbi2012.synthetic import generate_isbi2012

    data = generate_isbi2012(tmp_path / "isbi", num_pages=6, size=16, seed=0, with_test=False)
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", "bundles/isbi_unet/configs/train.yaml",
           "--dataset_dir", str(data), "--output_dir", str(tmp_path / "runs"), "--ckpt_dir", str(tmp_path / "models"),
           "--num_pages", "6", "--device", "cpu", "--features", "4", "--depth", "2", "--tile_size", "20",
           "--samples_per_epoch", "4", "--batch_size", "2", "--epochs", "1"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)})  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    tail = proc.stderr.rstrip().split("\n")[-2:]
    assert tail[0] == (
        f"ERROR: {data / 'train-volume.tif'}: pages of (16, 16) pixels are smaller than a training tile: with "
        "--tile_size 20 (network input 60, output 20, 20 px of mirrored context) pages must be at least 21 x 21. Use "
        "larger pages, or a smaller --tile_size (at most the page size; the context of 20 px, set by --depth, must "
        "stay below the page size)."
    ), proc.stderr[-3000:]
    assert "Epoch" not in proc.stdout


def _trained_one_epoch(ckpt_dir: Path, width: int) -> Engine:
    net = torch.nn.Linear(3, width)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    trainer = Engine(lambda engine, batch: 0.0)
    LatestCheckpointHandler(ckpt_dir=str(ckpt_dir), save_dict={"model": net, "optimizer": opt}).attach(trainer)
    trainer.run([0], max_epochs=1)
    return trainer


@pytest.mark.parametrize("width", [1, 100], ids=["small_file", "large_file"])
def test_disk_full_while_saving_a_checkpoint_names_the_file(tmp_path, monkeypatch, width):
    trainer = _trained_one_epoch(tmp_path / "a", width)
    before = (tmp_path / "a" / "checkpoint_epoch=1.pt").read_bytes()
    real_save = torch.save
    # what torch.save does on a full disk: /dev/full fails every write with ENOSPC; torch reports it as
    # "unexpected pos" (large files) or "basic_ios::clear: iostream error" (small ones)
    monkeypatch.setattr(torch, "save", lambda obj, f, **kw: real_save(obj, "/dev/full", **kw))
    with pytest.raises(CheckpointWriteError) as err:
        trainer.run([0], max_epochs=2)
    assert isinstance(err.value.__cause__, RuntimeError)
    message = str(err.value)
    assert message.startswith(f"could not write the checkpoint {tmp_path / 'a' / 'checkpoint_epoch=2.pt'}: the disk is")
    assert "--resume true" in message
    # the previous checkpoint is intact, and no temporary file is left
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["checkpoint_epoch=1.pt"]
    assert (tmp_path / "a" / "checkpoint_epoch=1.pt").read_bytes() == before


def test_no_space_oserror_names_the_file_and_other_errors_pass(tmp_path, monkeypatch):
    trainer = _trained_one_epoch(tmp_path / "a", 1)

    def no_space(obj, f, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", no_space)
    with pytest.raises(CheckpointWriteError, match="checkpoint_epoch=2.pt: no space left on the disk"):
        trainer.run([0], max_epochs=2)
    monkeypatch.setattr(torch, "save", lambda obj, f, **kw: (_ for _ in ()).throw(RuntimeError("other")))
    with pytest.raises(RuntimeError, match="^other$"):  # other errors pass unchanged
        _trained_one_epoch(tmp_path / "b", 1)
