"""k-fold cross-validation by case (or by group, e.g. patient), deterministic and independent of the list order."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence

__all__ = ["fold_of_groups", "kfold_split"]


def _group(item: dict, group_key: Hashable) -> str:
    if group_key in item:
        return str(item[group_key])
    if "case_id" in item:
        return str(item["case_id"])
    raise KeyError(f"data-list item {item!r} has neither {group_key!r} nor 'case_id'.")


def fold_of_groups(groups: Sequence[str], num_folds: int = 5, seed: int | str = 0) -> dict[str, int]:
    """Fold (0..num_folds-1) of every group: groups ranked by SHA-256 of ``"{seed}/{group}"`` and dealt out in
    turn, so fold sizes differ by at most one group and adding a group moves few others.

    Raises:
        ValueError: fewer groups than folds, or ``num_folds < 2``.
    """
    unique = sorted(set(groups))
    if num_folds < 2:
        raise ValueError(f"num_folds must be >= 2, got {num_folds}.")
    if len(unique) < num_folds:
        raise ValueError(f"{len(unique)} case(s) cannot fill {num_folds} folds; use --num_folds {max(2, len(unique))}.")
    ranked = sorted(unique, key=lambda g: hashlib.sha256(f"{seed}/{g}".encode()).hexdigest())
    return {g: i % num_folds for i, g in enumerate(ranked)}


def kfold_split(
    datalist: Sequence[dict], fold: int, num_folds: int = 5, group_key: Hashable = "group", seed: int | str = 0
) -> tuple[list[dict], list[dict]]:
    """Training and validation parts of fold ``fold`` of a k-fold cross-validation by group.

    Every item of a group (``item[group_key]``, else its ``case_id``) lands in the same fold; the validation parts
    of the ``num_folds`` folds are disjoint and together hold every item exactly once.

    Args:
        datalist: dictionaries with ``group_key`` or ``case_id``.
        fold: which fold to hold out, 0..num_folds-1.
        num_folds: k (nnU-Net: 5).
        group_key: key naming the group that must not be split (falls back to ``case_id``).
        seed: changes the assignment; the same seed always gives the same folds.

    Returns:
        ``(train, val)`` in the input order.
    """
    if not 0 <= int(fold) < num_folds:
        raise ValueError(f"fold must be in 0..{num_folds - 1}, got {fold}.")
    folds = fold_of_groups([_group(item, group_key) for item in datalist], num_folds, seed)
    train = [item for item in datalist if folds[_group(item, group_key)] != int(fold)]
    val = [item for item in datalist if folds[_group(item, group_key)] == int(fold)]
    return train, val
