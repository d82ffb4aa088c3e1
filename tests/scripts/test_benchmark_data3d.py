"""scripts/benchmark_data3d.py --quick: ours only (nnU-Net is not needed), tiny data, prints its table and writes
nothing; the axis mapping between nnU-Net's patch (z y x after transpose_forward) and ours (x y z); the synthetic
twins' spacing option the benchmark uses."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

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
    assert "| main process, ours with MONAI RandAffined |" in out  # the shipped chain has FastRandAffined
    assert "Where the time goes (ours with MONAI RandAffined)" in out
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


def test_synthetic_twin_takes_the_spacing_the_benchmark_asks_for(tmp_path):
    import nibabel as nib

    from formats.nnunet_v2.synthetic import generate_nnunet_v2

    root = generate_nnunet_v2(tmp_path, kind="mri", num_training=1, num_test=0, spatial_size=(8, 8, 6), spacing=(1, 1, 1))
    for path in (root / "imagesTr" / "synthmri_000_0000.nii.gz", root / "labelsTr" / "synthmri_000.nii.gz"):
        assert nib.load(str(path)).header.get_zooms()[:3] == (1.0, 1.0, 1.0)
    default = generate_nnunet_v2(tmp_path / "d", kind="mri", num_training=1, num_test=0, spatial_size=(8, 8, 6))
    zooms = nib.load(str(default / "labelsTr" / "synthmri_000.nii.gz")).header.get_zooms()[:3]
    assert [float(z) for z in zooms] == pytest.approx([0.9, 0.9, 3.0])
