"""Which config files make up a bundle's workflows, and one self-contained config per workflow.

In the repository a bundle's configs take shared YAML by macros relative to the repository root
(``"%bundles/common/configs/train_2d.yaml#train"``), evaluate / inference are override files of train.yaml, and a
variant bundle is an override file on top of another bundle's configs
(``['bundles/unet/configs/train.yaml', 'bundles/nas_unet/configs/variant.yaml', 'bundles/unet/configs/evaluate.yaml']``;
``catalog.bundles`` describes every bundle). A packaged
bundle must run outside the repository with MONAI's usual one-file command from its own folder, so each workflow
is merged and its macros are resolved here exactly as MONAI resolves them (``ConfigParser`` merges the file list
and replaces each macro by a deep copy of its target), repeated until none is left.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["WORKFLOWS", "ROOT", "bundle_config_files", "flatten_config", "find_macros"]

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ("train", "evaluate", "inference")
_MAX_PASSES = 10


def bundle_config_files(
    bundle_dir: str | Path, base: str | Path | None = None, root: str | Path = ROOT
) -> dict[str, list[Path]]:
    """Config file list per workflow (``train``, ``evaluate``, ``inference``) of a repository bundle, as
    ``catalog.bundle`` describes it: ``train.yaml`` of the base bundle, the bundle's override files, then the
    workflow's own override file of ``train.yaml``.

    Args:
        bundle_dir: ``bundles/<name>`` (relative to ``root``, or absolute).
        base: the bundle an override bundle overrides; its override files name it (``base_bundle``), so this is
            only checked against them.
        root: repository root.

    Raises:
        FileNotFoundError: naming the folder when it has no configs.
        ValueError: ``base`` differs from the one the override files name, or the bundle is not well formed.
    """
    import catalog

    root = Path(root)
    bundle_dir = Path(bundle_dir) if Path(bundle_dir).is_absolute() else root / bundle_dir
    configs = bundle_dir / "configs"
    if not configs.is_dir():
        raise FileNotFoundError(f"{configs}: no configs folder (not a bundle)")
    spec = catalog.bundle(bundle_dir.name, root=bundle_dir.parents[1])
    if base is not None and Path(base).name != spec.base:
        raise ValueError(f"{configs}: its override files name base bundle {spec.base!r}, not {Path(base).name!r}")
    return {w: [bundle_dir.parents[1] / f for f in spec.config_files(w)] for w in WORKFLOWS if w in spec.workflows}


def find_macros(config: Any, where: str = "") -> list[tuple[str, str]]:
    """(config id, macro) of every ``%`` string left in a config."""
    if isinstance(config, dict):
        return [m for k, v in config.items() for m in find_macros(v, f"{where}#{k}" if where else str(k))]
    if isinstance(config, list):
        return [m for i, v in enumerate(config) for m in find_macros(v, f"{where}#{i}" if where else str(i))]
    return [(where, config)] if isinstance(config, str) and config.startswith("%") else []


def flatten_config(
    files: Sequence[str | Path], overrides: Mapping[str, Any] | None = None, root: str | Path = ROOT
) -> dict:
    """Merge ``files`` (later files override top-level keys, as ``--config_file "[...]"`` does), apply top-level
    ``overrides`` (as command-line ``--key value``), and resolve every macro (paths relative to ``root``, as when
    run from the repository root). The result has no ``_meta_`` and refers to no other file.

    Raises:
        ValueError: naming the files and the config id when a macro is left (a macro inside itself).
    """
    from monai.bundle import ConfigParser

    with contextlib.chdir(root):
        parser = ConfigParser()
        parser.read_config([str(f) for f in files])
        for key, value in (overrides or {}).items():
            parser[key] = value
        for _ in range(_MAX_PASSES):
            before = json.dumps(parser.get(), sort_keys=True, default=str)
            parser.resolve_macro_and_relative_ids()
            if json.dumps(parser.get(), sort_keys=True, default=str) == before:
                break
        config = parser.get()
    config.pop("_meta_", None)
    left = find_macros(config)
    if left:
        raise ValueError(f"{[str(f) for f in files]}: macros left after {_MAX_PASSES} passes: {left[:5]}")
    return config
