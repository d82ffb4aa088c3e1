"""Every benchmark script runs in its --quick mode (tiny sizes, nothing written) and prints its table; no timing is
asserted (the machine is shared)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _main(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.parametrize(
    "name, argv, expected",
    [
        ("benchmark_data", ["--quick"], ["| store+batch |", "| monai_patchiter |", "| naive |"]),
        ("benchmark_training", ["--quick"], ["| ours (modular U-Net) | 122,497 | bf16 |", "MONAI BasicUNet", "Profile of one fp32"]),
        ("benchmark_inference", ["--quick"], ["| ours bf16 |", "| plain loop fp32 |", "Stages of ours"]),
        ("benchmark_memory", ["--quick", "--modes", "data"], ["| store |", "| cached |", "peak RSS, 2 cases", "data only"]),
    ],
)
def test_quick_mode_runs_and_prints_its_table(name, argv, expected, capsys):
    docs = SCRIPTS.parent / "docs" / "benchmarks.md"
    before = docs.read_text() if docs.is_file() else None
    assert _main(name)(argv) == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out, f"{text!r} not in the output of {name} --quick:\n{out[-2000:]}"
    assert (docs.read_text() if docs.is_file() else None) == before, "--quick writes nothing"
