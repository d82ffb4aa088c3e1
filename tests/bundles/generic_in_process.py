"""The generic path (bundles/common/configs/any_dataset*.yaml) parsed and run in this process on a tiny MRI twin: the
twin, the working directory the configs' relative paths need, and a parser with tiny settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from monai.bundle import ConfigParser

__all__ = ["ROOT", "in_root", "mri_twin", "parser_for"]

ROOT = Path(__file__).resolve().parents[2]


def mri_twin(folder: Path) -> Path:
    """The synthetic MRI twin in nnU-Net v2's layout: 4 training cases and 1 test case."""
    from formats import FORMATS

    return FORMATS.get("nnunet_v2").synthesize(folder / "mri", kind="mri", num_training=4, num_test=1, seed=0)


@contextmanager
def in_root() -> Iterator[None]:
    """Run in the repository root (the configs name their macro files relative to it)."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(cwd)


def parser_for(files: list[str], dataset: Path, run: Path, **overrides) -> ConfigParser:
    """``files`` (relative to the root) parsed with tiny settings (width 4, 16² patches, 2 batches of 2 an epoch, one
    epoch, fp32, a quarter of the cases for validation), run folder ``run``, then ``overrides``."""
    parser = ConfigParser()
    parser.read_config([str(ROOT / f) for f in files])
    parser.update(
        {
            "dataset_dir": str(dataset), "ckpt_dir": str(run / "models"), "output_dir": str(run / "out"),
            "fingerprint_dir": str(run.parent / "fingerprints"), "device": "cpu", "num_workers": 0, "seed": 0,
            "amp": False, "epochs": 1, "iterations_per_epoch": 2, "val_fraction": 0.25,
            "plan#features": 4, "plan#batch_size": 2, "plan#patch_size": [16, 16], **overrides,
        }
    )  # fmt: skip
    parser.parse()
    return parser
