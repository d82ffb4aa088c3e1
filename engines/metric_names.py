"""Metric names that say which split they were computed on: ``test_*`` when an evaluation runs on the test split.

The bundles' validation metrics are named ``val_*`` (``val_mean_dice``, ``val_rand_error``, ...); the evaluation
workflows reuse those metric objects, so without renaming the test-split results would be written as
``val_mean_dice_raw.csv`` and ``val_mean_dice`` in ``metrics.csv``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["rename_metrics", "split_prefix"]


def split_prefix(eval_files: Sequence, test_files: Sequence) -> str:
    """``"test_"`` when ``eval_files`` is the split's test list (the evaluation default), else ``"val_"``.

    Args:
        eval_files: the data list evaluated (``eval_files`` of the bundle).
        test_files: the split's test list (``data#test_files``).
    """
    return "test_" if list(eval_files) == list(test_files) else "val_"


def rename_metrics(metrics: Mapping[str, Any], prefix: str, old: str = "val_") -> dict[str, Any]:
    """``metrics`` with the leading ``old`` of each name replaced by ``prefix`` (other names unchanged).

    Args:
        metrics: name -> metric (or anything keyed by metric name, e.g. the columns of a case table).
        prefix: the new prefix, e.g. from :func:`split_prefix`.
        old: the prefix to replace.

    Raises:
        ValueError: two names would become the same.
    """
    renamed: dict[str, Any] = {}
    for name, value in metrics.items():
        new = prefix + name[len(old) :] if name.startswith(old) else name
        if new in renamed:
            raise ValueError(f"metric names {list(metrics)} collide after renaming {old!r} to {prefix!r}: {new!r}.")
        renamed[new] = value
    return renamed
