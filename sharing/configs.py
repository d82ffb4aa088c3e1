"""Which config files make up a bundle's workflows, and one self-contained config per workflow.

In the repository a bundle's configs take shared YAML by macros relative to the repository root
(``"%bundles/common/configs/train_2d.yaml#train"``), and a variant bundle is an override file on top of another
bundle's configs (``['bundles/unet/configs/train.yaml', 'bundles/nas_unet/configs/variant.yaml']``). A packaged
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
# override files named `variant.yaml` override the unet bundle's configs (README: "The seed-000 variants")
DEFAULT_BASES = {"variant.yaml": "bundles/unet"}
_KNOWN = {f"{w}.yaml" for w in WORKFLOWS} | {"metadata.json", "multi_gpu_train.yaml", "logging.conf"}
_MAX_PASSES = 10


def bundle_config_files(
    bundle_dir: str | Path, base: str | Path | None = None, root: str | Path = ROOT
) -> dict[str, list[Path]]:
    """Config file list per workflow (``train``, ``evaluate``, ``inference``) of a repository bundle.

    A bundle with its own ``configs/<workflow>.yaml`` uses it. A bundle without (an override bundle) applies its
    override files (every other ``*.yaml`` in ``configs/``) on top of ``base``'s workflow configs; ``base``
    defaults to ``bundles/unet`` for ``variant.yaml`` and must be given otherwise.

    Raises:
        FileNotFoundError: naming the folder when it has no configs, or the base.
    """
    root = Path(root)
    bundle_dir = Path(bundle_dir) if Path(bundle_dir).is_absolute() else root / bundle_dir
    configs = bundle_dir / "configs"
    if not configs.is_dir():
        raise FileNotFoundError(f"{configs}: no configs folder (not a bundle)")
    own = {w: [configs / f"{w}.yaml"] for w in WORKFLOWS if (configs / f"{w}.yaml").is_file()}
    if own:
        return own
    overrides = sorted(p for p in configs.glob("*.yaml") if p.name not in _KNOWN)
    if not overrides:
        raise FileNotFoundError(f"{configs}: neither workflow configs ({', '.join(sorted(_KNOWN))}) nor override files")
    if base is None:
        bases = {DEFAULT_BASES[p.name] for p in overrides if p.name in DEFAULT_BASES}
        if len(bases) != 1:
            raise ValueError(
                f"{configs}: override files {[p.name for p in overrides]} need the bundle they override: pass base= "
                "(--base bundles/<name>)"
            )
        base = bases.pop()
    base_lists = bundle_config_files(base, root=root)
    return {w: [*files, *overrides] for w, files in base_lists.items()}


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
