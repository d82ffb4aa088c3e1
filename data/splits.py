"""Deterministic splits of a data list into parts (train / validation / test) by group: case, patient or page.

One algorithm for every split: two-way splits (training / validation, MSD's ``val_fraction``) are
``fractions=(1 - v, v)``; the data sets of the seeds state three-way splits as counts (BraTS2020 250/74/45 of 369
cases, ISBI 2012 20/5/5 of 30 pages, Figshare 2800/200/64 of 3064 images). Here those counts are read as fractions,
so the same configuration splits a synthetic data set of any size, and every item of one group (all slices of a
case, all images of a patient) lands on the same side.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Hashable, Sequence

from data.headers import case_id_from_path

__all__ = ["allocate_counts", "describe_split", "group_of", "split_by_group"]


def group_of(item: dict, group_key: Hashable = "case_id") -> str:
    """Group of a data-list item: ``item[group_key]``, else the case id of ``item["image"]`` (file name stem)."""
    if group_key in item:
        return str(item[group_key])
    image = item.get("image")
    if isinstance(image, (list, tuple)):
        image = image[0] if image else None
    if image is None:
        raise KeyError(f"data-list item {item!r} has neither {group_key!r} nor 'image'.")
    return case_id_from_path(image)


def allocate_counts(fractions: Sequence[float], total: int, at_least_one: bool = True) -> list[int]:
    """Split ``total`` into integer parts proportional to ``fractions`` (largest-remainder rounding).

    Args:
        fractions: non-negative weights, e.g. ``(250, 74, 45)`` or ``(0.8, 0.1, 0.1)``; normalised here.
        total: number to split.
        at_least_one: give every part with a positive weight at least one (taken from the largest part)
            when ``total`` allows it.

    Returns:
        Integers summing to ``total``; ``allocate_counts((250, 74, 45), 369) == [250, 74, 45]``.
    """
    weights = [float(f) for f in fractions]
    if not weights or any(w < 0 or not math.isfinite(w) for w in weights) or sum(weights) <= 0:
        raise ValueError(f"fractions must be finite, non-negative and not all zero, got {list(fractions)}.")
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}.")
    exact = [w / sum(weights) * total for w in weights]
    counts = [math.floor(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    if at_least_one and total >= sum(w > 0 for w in weights):
        for i, w in enumerate(weights):
            if w > 0 and counts[i] == 0:
                donor = max(range(len(counts)), key=lambda j: (counts[j], -j))
                counts[donor] -= 1
                counts[i] += 1
    return counts


def _rank(seed: int | str) -> Callable[[str], str]:
    return lambda group: hashlib.sha256(f"{seed}/{group}".encode()).hexdigest()


def split_by_group(
    datalist: Sequence[dict],
    fractions: Sequence[float] = (0.8, 0.2),
    group_key: Hashable = "case_id",
    seed: int | str = 0,
) -> tuple[list[dict], ...]:
    """Split a data list into ``len(fractions)`` parts, keeping every group on one side, deterministically.

    Groups (``item[group_key]``, e.g. ``case_id`` or ``patient_id``) are ranked by SHA-256 of
    ``"{seed}/{group}"`` (independent of the list order, the Python version and hash randomisation). The target
    size of each part is its fraction of the number of *items*, rounded by :func:`allocate_counts`. Parts 1, 2,
    ... (validation, test) are filled in that order from the ranked groups: a group is taken when adding it
    brings the part no further from its target (groups that would overshoot are skipped and stay for the
    next parts); part 0 (training) gets all the rest. With one item per group the sizes equal the targets
    exactly; with groups of several items (patients) they are as close as whole groups allow. A part with a
    positive fraction gets at least one group when there are enough groups, and the first part always keeps one.

    Args:
        datalist: dictionaries, each with ``group_key`` (else ``image``, whose file-name stem is the group).
        fractions: weights of the parts, training first: ``(250, 74, 45)`` (BraTS2020), ``(20, 5, 5)``
            (ISBI 2012), ``(2800, 200, 64)`` (Figshare), ``(0.8, 0.2)``.
        group_key: key naming the group that must not be split.
        seed: changes the split; the same seed always gives the same split.

    Returns:
        One list per fraction, each holding the input dictionaries in their original order.
    """
    groups: dict[str, int] = {}
    for item in datalist:
        group = group_of(item, group_key)
        groups[group] = groups.get(group, 0) + 1
    targets = allocate_counts(fractions, len(datalist), at_least_one=False)
    remaining = sorted(groups, key=_rank(seed))
    assigned: dict[str, int] = {}
    reserve = 1 if fractions[0] > 0 else 0  # the first part keeps at least one group
    for part in range(1, len(targets)):
        count, taken = 0, []
        for group in remaining:
            size = groups[group]
            if count >= targets[part] or len(remaining) - len(taken) <= reserve:
                break
            if 2 * count + size <= 2 * targets[part]:  # |count + size - target| <= |count - target|
                taken.append(group)
                count += size
        if not taken and fractions[part] > 0 and len(remaining) > reserve:
            taken.append(remaining[0])
        for group in taken:
            assigned[group] = part
        remaining = [g for g in remaining if g not in assigned]
    parts: list[list[dict]] = [[] for _ in targets]
    for item in datalist:
        parts[assigned.get(group_of(item, group_key), 0)].append(item)
    return tuple(parts)


def describe_split(parts: Sequence[Sequence[dict]], group_key: Hashable = "case_id") -> str:
    """One line for logs: ``"train 250 items / 250 groups, val 74 items / 74 groups, test 45 items / 45 groups"``."""
    names = ("train", "val", "test")
    out = []
    for i, part in enumerate(parts):
        name = names[i] if i < len(names) else f"part{i}"
        out.append(f"{name} {len(part)} items / {len({group_of(item, group_key) for item in part})} groups")
    return ", ".join(out)
