"""Where the seed-bundle tests keep a run's files: the bundle's root, as before run folders existed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["in_root"]


def in_root(root: Path, config: str, given: Iterable[str]) -> list[str]:
    """``--ckpt_dir root/models`` always, and ``--output_dir root/runs`` for training unless ``given`` (the test's
    own overrides: CLI arguments or override names) sets an output folder."""
    out = ["--ckpt_dir", str(root / "models")]
    if config == "train" and not {"--output_dir", "output_dir"} & set(given):
        out += ["--output_dir", str(root / "runs")]
    return out
