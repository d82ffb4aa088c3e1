"""scripts/benchmark_data3d.py --quick: ours only (nnU-Net is not needed), tiny data, prints its table and writes
nothing; the axis mapping between nnU-Net's patch (z y x after transpose_forward) and ours (x y z)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _module():
    spec = importlib.util.spec_from_file_location("benchmark_data3d", SCRIPTS / "benchmark_data3d.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_mode_prints_patches_per_second_and_writes_nothing(capsys):
    docs = SCRIPTS.parent / "docs" / "benchmarks.md"
    before = docs.read_text() if docs.is_file() else None
    assert _module().main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "ours, main process (0 workers / single-threaded): " in out and " patches/s" in out, out[-2000:]
    assert "| main process (0 workers / single-threaded) |" in out
    assert "| 1 worker(s) (nnUNet_n_proc_DA=1) |" in out
    assert "| main process, ours with transforms.FastRandAffined |" in out
    assert "Where the time goes (ours with FastRandAffined)" in out
    assert "Where the time goes (ours)" in out
    assert "RandAffined -> RandElasticd" in out and "RandMirrord" in out, "the shipped augmentation is what runs"
    assert (docs.read_text() if docs.is_file() else None) == before, "--quick writes nothing"


def test_patch_axes_round_trip_between_nnunet_and_ours():
    module = _module()
    assert module.ours_axes([96, 128, 112], [0, 1, 2]) == [112, 128, 96]
    for transpose in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        theirs = module.nnunet_axes([80, 96, 48], transpose)
        assert module.ours_axes(theirs, transpose) == [80, 96, 48]
    # transpose_forward [2, 0, 1]: nnU-Net's first axis is SimpleITK's last (our x)
    assert module.nnunet_axes([80, 96, 48], [2, 0, 1]) == [80, 48, 96]
