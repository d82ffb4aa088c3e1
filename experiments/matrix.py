"""The comparison matrix: bundles x losses x seeds (x named override sets), each run keyed by what it runs."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "LOSSES_FILE", "MatrixError", "RunSpec", "config_files", "expand_matrix", "load_matrix", "read_matrix_file",
]

LOSSES_FILE = "bundles/common/configs/losses.yaml"
BUNDLE_LOSS = "bundle"  # keep the loss the bundle declares
_MATRIX_KEYS = {"name", "bundles", "losses", "seeds", "overrides", "variants", "baseline", "metric", "test_fraction",
                "split_seed", "dataset_dir", "time_limit"}
# keys the runner sets itself for every run; a matrix may not override them
_RESERVED = {"bundle_root", "output_dir", "ckpt_dir", "dataset_dir", "data", "seed", "loss", "resume"}


class MatrixError(ValueError):
    """A comparison matrix that cannot be run; the message names the file (or ``the command line``)."""


def config_files(bundle: str, config: str, root: str | os.PathLike = ".") -> list[str]:
    """The bundle's config list of workflow ``config`` as a user passes it (``catalog.config_files``; paths relative
    to the repository root)."""
    import catalog

    try:
        return catalog.config_files(bundle, config, root=Path(root).absolute())
    except catalog.BundleError as err:
        raise MatrixError(str(err)) from None


@dataclass(frozen=True)
class RunSpec:
    """One training + evaluation run of a comparison.

    Args:
        bundle: bundle name (``bundles/<bundle>``): ``unet`` or a variant with ``configs/variant.yaml``.
        loss: a key of ``bundles/common/configs/losses.yaml``, or ``"bundle"`` for the bundle's own loss.
        seed: the bundle's ``seed`` (initialisation, augmentation); the split is fixed by the experiment.
        variant: name of the override set (``""`` when the matrix has none).
        overrides: top-level config keys for train and evaluate (budget, width, slots, ...).
    """

    bundle: str
    loss: str = BUNDLE_LOSS
    seed: int = 0
    variant: str = ""
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Hash of everything that defines the run (bundle, loss, seed, overrides): equal keys, same run."""
        text = json.dumps(
            {"bundle": self.bundle, "loss": self.loss, "seed": self.seed, "overrides": dict(self.overrides)},
            sort_keys=True, default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    @property
    def group(self) -> str:
        """Row label of the results table: runs differing only in ``seed`` share it."""
        return "/".join(p for p in (self.bundle, self.variant, self.loss) if p)

    @property
    def name(self) -> str:
        """Folder name of the run: readable part plus :attr:`key`."""
        parts = [self.bundle, self.variant, self.loss, f"s{self.seed}", self.key]
        return "-".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        return {"bundle": self.bundle, "loss": self.loss, "seed": self.seed, "variant": self.variant,
                "overrides": dict(self.overrides), "key": self.key, "group": self.group}


def _known_bundles(root: Path) -> list[str]:
    """unet and the bundles that override it (the comparison runner's family), from the catalog."""
    import catalog

    root = Path(root).absolute()
    variants = [n for n in catalog.bundle_names(root) if n != "unet" and catalog.bundle(n, root).base == "unet"]
    return ["unet", *sorted(variants)]


def _known_losses(root: Path) -> list[str]:
    content = yaml.safe_load((root / LOSSES_FILE).read_text())
    return sorted(content)


def expand_matrix(
    bundles: Sequence[str],
    losses: Sequence[str] = (BUNDLE_LOSS,),
    seeds: Sequence[int] = (0,),
    overrides: Mapping[str, Any] | None = None,
    variants: Sequence[Mapping[str, Any]] | None = None,
    root: str | os.PathLike = ".",
    source: str = "the command line",
) -> list[RunSpec]:
    """All runs of ``bundles x variants x losses x seeds``, in that nesting order (seeds innermost).

    Args:
        bundles: bundle names; each must be ``unet`` or have ``bundles/<name>/configs/variant.yaml``.
        losses: keys of ``losses.yaml`` or ``"bundle"``.
        seeds: integer seeds.
        overrides: top-level config keys applied to every run (e.g. ``epochs``, ``features``, ``roi_size``).
        variants: named override sets ``{"name": str, "overrides": {...}}`` crossed with the bundles; they
            update ``overrides``.
        root: repository root holding ``bundles/``.
        source: where the matrix came from, quoted in errors.

    Raises:
        MatrixError: unknown bundle or loss (listing the valid names), reserved override keys, an empty axis,
            duplicate runs.
    """
    root = Path(root)
    if not bundles or not losses or not seeds:
        raise MatrixError(f"{source}: bundles, losses and seeds must each list at least one entry.")
    known = _known_bundles(root)
    unknown = [b for b in bundles if b not in known]
    if unknown:
        raise MatrixError(f"{source}: unknown bundle(s) {unknown}; valid: {known}.")
    valid_losses = _known_losses(root)
    bad = [loss for loss in losses if loss != BUNDLE_LOSS and loss not in valid_losses]
    if bad:
        raise MatrixError(f"{source}: unknown loss(es) {bad}; valid: {[BUNDLE_LOSS, *valid_losses]}.")
    overrides = dict(overrides or {})
    variant_list = [dict(v) for v in (variants or [{"name": "", "overrides": {}}])]
    for v in variant_list:
        if not isinstance(v.get("name"), str) or not isinstance(v.get("overrides", {}), dict):
            raise MatrixError(f"{source}: each variant needs a 'name' and an 'overrides' mapping, got {v!r}.")
    named = [("overrides", overrides), *((f"variant {v['name']!r}", v.get("overrides", {})) for v in variant_list)]
    for where, keys in named:
        clash = sorted(set(keys) & _RESERVED)
        if clash:
            raise MatrixError(f"{source}: {where} may not set {clash}; the runner sets them (use 'seeds', 'losses').")
    try:
        seed_values = [int(s) for s in seeds]
    except (TypeError, ValueError) as err:
        raise MatrixError(f"{source}: seeds must be integers, got {list(seeds)!r}.") from err
    runs = [
        RunSpec(bundle=b, loss=str(loss), seed=s, variant=v["name"], overrides={**overrides, **v.get("overrides", {})})
        for b in bundles
        for v in variant_list
        for loss in losses
        for s in seed_values
    ]
    keys = [r.key for r in runs]
    if len(set(keys)) != len(keys):
        raise MatrixError(
            f"{source}: the matrix lists the same run twice (duplicate bundles, losses, seeds or variants)."
        )
    return runs


def read_matrix_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a matrix YAML file (keys: name, bundles, losses, seeds, overrides, variants, baseline, metric,
    test_fraction, split_seed, dataset_dir, time_limit) and check its shape.

    Raises:
        MatrixError: the file is missing, not YAML, not a mapping, or has unknown keys; the message names it.
    """
    path = Path(path)
    if not path.is_file():
        raise MatrixError(f"{path}: matrix file not found.")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise MatrixError(f"{path}: not valid YAML ({err}).") from err
    if not isinstance(content, dict):
        raise MatrixError(f"{path}: a matrix file is a mapping with 'bundles', 'losses', 'seeds', 'overrides'.")
    unknown = sorted(set(content) - _MATRIX_KEYS)
    if unknown:
        raise MatrixError(f"{path}: unknown key(s) {unknown}; valid: {sorted(_MATRIX_KEYS)}.")
    for key in ("bundles", "losses", "seeds", "variants"):
        if key in content and not isinstance(content[key], list):
            raise MatrixError(f"{path}: '{key}' must be a list, got {content[key]!r}.")
    if "overrides" in content and not isinstance(content["overrides"], dict):
        raise MatrixError(f"{path}: 'overrides' must be a mapping, got {content['overrides']!r}.")
    return content


def load_matrix(path: str | os.PathLike, root: str | os.PathLike = ".") -> tuple[dict[str, Any], list[RunSpec]]:
    """Settings and runs of a matrix YAML file (see :func:`read_matrix_file`, :func:`expand_matrix`)."""
    content = read_matrix_file(path)
    if "bundles" not in content:
        raise MatrixError(f"{path}: no 'bundles' list.")
    runs = expand_matrix(
        content["bundles"], content.get("losses", [BUNDLE_LOSS]), content.get("seeds", [0]),
        content.get("overrides"), content.get("variants"), root=root, source=str(path),
    )
    return content, runs
