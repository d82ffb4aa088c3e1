"""Package a repository bundle as a self-contained archive that runs outside the repository.

Archive layout (the model zoo's, so MONAI's usual one-file commands work from the bundle folder)::

    <name>/configs/{train,evaluate,inference}.yaml   merged and macro-free (sharing.configs), bundle_root "."
    <name>/configs/metadata.json                     the bundle's metadata + "sha256": {path: hex} of every other file
                                                 + "code": {"packages": [...], "sha256": {...}} (sharing.manifest)
<name>/configs/signature.json                    added by sharing.signing.sign_bundle (scripts/sign_bundle.py)
    <name>/configs/logging.conf                      when the bundle (or its base) has one
    <name>/models/model.pt                           the best weights (state dict, checked to load strictly)
    <name>/networks/ transforms/ ...                 the code packages the configs import, with what they import
    <name>/docs/, LICENSE, requirements.txt          model card, licence, the pinned requirements

``python -m monai.bundle run`` from ``<name>/`` imports ``networks`` etc. from the folder (``python -m`` puts the
working directory first on ``sys.path``; MONAI's ``run`` adds the bundle root too). A receiver runs it through
``scripts/run_received_bundle.py`` instead, which verifies it (sharing/verify.py) and imports the receiver's own
copy of the code.
"""

from __future__ import annotations

import ast
import json
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sharing.audit import OUR_PACKAGES, audit_config
from sharing.configs import ROOT, WORKFLOWS, bundle_config_files, flatten_config
from sharing.hashing import HASH_KEY, UNHASHED, bundle_files, hash_files
from sharing.manifest import CODE_KEY, code_manifest, package_files

__all__ = ["package_bundle", "code_packages", "data_format_from_plan"]

_FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # zip entries get one timestamp: the same inputs give the same archive


def _imported_packages(package_dir: Path, candidates: set[str]) -> set[str]:
    found = set()
    for py in package_dir.rglob("*.py"):
        tree = ast.parse(py.read_text(encoding="utf-8"), filename=str(py))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found & candidates


# where a packaged bundle keeps its files: relative to its own folder, not in a run folder of the repository
_PACKAGED_DIRS = {"bundle_root": ".", "ckpt_dir": "$@bundle_root + '/models'", "run_dir": "$@bundle_root + '/runs'"}


def code_packages(
    configs: list[dict], root: str | Path = ROOT, candidates: tuple[str, ...] = OUR_PACKAGES
) -> list[str]:
    """Our packages the configs refer to (``$import``, ``_target_``, names in ``$`` expressions), closed over the
    packages those import in turn."""
    root = Path(root)
    available = {p for p in candidates if (root / p / "__init__.py").is_file()}
    wanted = {r for c in configs for e in audit_config(c) for r in e.roots} & available
    todo = list(wanted)
    while todo:
        for dep in _imported_packages(root / todo.pop(), available) - wanted:
            wanted.add(dep)
            todo.append(dep)
    return sorted(wanted)


def _dump_config(config: dict, path: Path, header: str) -> None:
    text = yaml.safe_dump(config, sort_keys=False, width=120, allow_unicode=True)
    path.write_text("".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + text, encoding="utf-8")


def _usage(name: str, lists: dict[str, list[Path]], overrides: Mapping[str, Any], root: Path) -> str:
    """How to run the packaged bundle; put above the model card, whose commands are the repository's."""
    sources = "; ".join(f"{w}: {' + '.join(str(f.relative_to(root)) for f in fs)}" for w, fs in lists.items())
    return (
        f"# Packaged bundle `{name}`\n\n"
        f"Packaged from the repository's configs ({sources})"
        + (f" with the overrides `{json.dumps(dict(overrides))}`" if overrides else "")
        + ". The shared YAML is merged into each config, so the commands of the model card below, which refer to\n"
        "`bundles/...` in the repository, become (from this folder, with the packages of `requirements.txt`):\n\n"
        "```bash\n"
        "python -m monai.bundle run --config_file configs/inference.yaml --dataset_dir /path/to/data\n"
        "python -m monai.bundle run --config_file configs/evaluate.yaml --dataset_dir /path/to/data\n"
        "python -m monai.bundle ckpt_export network_def --filepath models/model.ts --ckpt_file models/model.pt "
        "--meta_file configs/metadata.json --config_file configs/inference.yaml\n"
        "```\n\n"
        "`configs/metadata.json` records the sha256 of every other file under `sha256`. Run a received archive\n"
        "through the U-Net family repository, which verifies it first (and refuses to run it otherwise): "
        "`python scripts/run_received_bundle.py <archive>.zip --extract-to <folder> -- --dataset_dir ...`.\n\n---\n\n"
    )


def _check_weights(config: dict, weights: Path) -> None:
    """The weights load strictly into the network the inference config builds (catches a width override that was
    used for training but not given here)."""
    import torch
    from monai.bundle import ConfigParser

    state = torch.load(weights, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    net = ConfigParser(json.loads(json.dumps(config))).get_parsed_content("network_def")
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(
            f"{weights}: does not fit the network of the packaged configs (pass the overrides used for training, "
            f"e.g. --set features=16): {str(e).splitlines()[0]} ..."
        ) from e


def data_format_from_plan(plan: Mapping[str, Any], base: Mapping[str, Any]) -> dict:
    """``network_data_format`` of a generic-path package from its plan: the data set's channels (names from its
    ``dataset.json``), the patch the network was trained on, and one output channel per class (softmax) or region
    (sigmoid), named. The bundle's own metadata describes its seed's data set, which the package was not trained on.

    Args:
        plan: the run's ``plan.json`` (``data.plan``).
        base: the bundle's ``network_data_format`` (its other keys are kept).

    Returns:
        The new ``network_data_format``.
    """
    channel_names = [str(n) for n in plan["channel_names"]]
    if plan.get("activation") == "sigmoid":  # regions: one channel per non-background label entry, in order
        out_names = [str(k) for k in plan["labels"] if plan["labels"][k] not in (0, [0])]
    else:
        out_names = [str(n) for n in plan["class_names"]]
    if len(out_names) != int(plan["out_channels"]):
        out_names = [f"channel {i}" for i in range(int(plan["out_channels"]))]
    schemes = {entry.get("scheme") for entry in plan.get("normalization") or []}
    patch = [int(v) for v in plan["patch_size"]]
    common = {"type": "image", "spatial_shape": patch, "dtype": "float32", "value_range": [], "is_patch_data": True}
    fmt = {k: v for k, v in base.items() if k not in ("inputs", "outputs")}
    fmt["inputs"] = {"image": {
        **common, "format": "magnitude", "modality": "CT" if schemes == {"ct"} else "unspecified",
        "num_channels": int(plan["in_channels"]), "channel_def": dict(enumerate(channel_names)),
    }}
    fmt["outputs"] = {"pred": {
        **common, "format": "segmentation", "num_channels": int(plan["out_channels"]),
        "channel_def": {i: f"{n} (logit)" for i, n in enumerate(out_names)},
    }}
    return json.loads(json.dumps(fmt))  # channel_def keys as strings, as MONAI's metadata has them


def package_bundle(
    bundle_dir: str | Path,
    out_dir: str | Path,
    weights: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    base: str | Path | None = None,
    name: str | None = None,
    root: str | Path = ROOT,
    config_lists: Mapping[str, list[str | Path]] | None = None,
    model_files: tuple[str | Path, ...] = (),
    check_overrides: Mapping[str, Any] | None = None,
    fold_weights: tuple[str | Path, ...] = (),
) -> Path:
    """Write ``<out_dir>/<name>_<version>.zip`` (see the module docstring for what it holds); returns its path.

    Args:
        bundle_dir: the repository bundle (``bundles/unet``, or a variant such as ``bundles/nas_unet``).
        out_dir: folder for the archive (created).
        weights: best weights; default ``<bundle_dir>/models/model.pt``.
        overrides: top-level config keys to fix in every packaged config, as given to training
            (``{"target_params": 0, "features": 16}``).
        base: bundle whose configs an override bundle overrides (see ``sharing.configs.bundle_config_files``).
        name: archive folder name; default the bundle folder's name.
        root: repository root (macros are relative to it).
        config_lists: the config list per workflow instead of the bundle's own (a run of the generic path:
            ``[train.yaml, any_dataset.yaml, any_dataset_inference.yaml]``...; paths relative to ``root``).
        model_files: more files for ``models/`` beside the weights (the generic path's ``plan.json``).
        check_overrides: keys set only to build the network that checks the weights (e.g. the training run's
            ``dataset_dir`` and ``ckpt_dir``, from which the generic path's network reads its plan).
        fold_weights: the best weights of the folds of an ensemble, each checked like ``weights`` and shipped as
            ``models/fold_<i>.pt`` (the configs name them: ``any_dataset_ensemble.yaml``'s ``ensemble``).

    Raises:
        FileNotFoundError / ValueError: naming the missing or unfit file.
    """
    root = Path(root)
    bundle_dir = Path(bundle_dir) if Path(bundle_dir).is_absolute() else root / bundle_dir
    name = name or bundle_dir.name
    overrides = dict(overrides or {})
    weights = Path(weights) if weights else bundle_dir / "models" / "model.pt"
    meta_file = bundle_dir / "configs" / "metadata.json"
    for needed in (weights, meta_file):
        if not needed.is_file():
            raise FileNotFoundError(f"{needed}: not found (needed to package {bundle_dir})")
    if config_lists is None:
        lists = bundle_config_files(bundle_dir, base=base, root=root)
    else:
        lists = {w: [Path(f) if Path(f).is_absolute() else root / f for f in fs] for w, fs in config_lists.items()}
    for extra in model_files:
        if not Path(extra).is_file():
            raise FileNotFoundError(f"{extra}: not found (needed to package {bundle_dir})")
    # inside the packaged bundle: weights in models/, outputs in runs/ (training), eval/ and pred/, no run folders
    outputs = {"train": "runs", "evaluate": "eval", "inference": "pred"}
    configs = {
        w: flatten_config(files, {**overrides, **_PACKAGED_DIRS, "output_dir": f"$@bundle_root + '/{outputs[w]}'"}, root=root)
        for w, files in lists.items()
    }
    if "inference" not in configs:
        raise FileNotFoundError(f"{bundle_dir}: no inference config (needed to check and run the weights)")
    check_config = {**configs["inference"], **dict(check_overrides or {})}
    for checked in (weights, *(Path(f) for f in fold_weights)):
        if not Path(checked).is_file():
            raise FileNotFoundError(f"{checked}: not found (needed to package {bundle_dir})")
        _check_weights(check_config, Path(checked))

    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / name
        (stage / "configs").mkdir(parents=True)
        for workflow, config in configs.items():
            sources = " + ".join(str(f.relative_to(root)) for f in lists[workflow])
            header = (
                f"{workflow}.yaml of bundle {name}, packaged from {sources}"
                + (f" with overrides {json.dumps(overrides)}" if overrides else "")
                + ";\nthe shared YAML is merged in (no macros). Run from the bundle folder:\n"
                + f"  python -m monai.bundle run --config_file configs/{workflow}.yaml"
            )
            _dump_config(config, stage / "configs" / f"{workflow}.yaml", header)
        for source in (bundle_dir, *(Path(p) for p in {f.parents[1] for fs in lists.values() for f in fs})):
            if (source / "configs" / "logging.conf").is_file() and not (stage / "configs" / "logging.conf").exists():
                shutil.copy2(source / "configs" / "logging.conf", stage / "configs" / "logging.conf")
        (stage / "models").mkdir()
        shutil.copy2(weights, stage / "models" / "model.pt")
        for extra in model_files:
            shutil.copy2(extra, stage / "models" / Path(extra).name)
        for i, fold in enumerate(fold_weights):
            shutil.copy2(fold, stage / "models" / f"fold_{i}.pt")
        packages = code_packages(list(configs.values()), root=root)
        for package in packages:
            for rel in package_files(root, package):  # what a bundle imports: no synthetic twins (NOT_SHIPPED)
                (stage / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / rel, stage / rel)
        if (bundle_dir / "docs").is_dir():
            shutil.copytree(bundle_dir / "docs", stage / "docs")
        card = stage / "docs" / "README.md"
        card.parent.mkdir(exist_ok=True)
        model_card = card.read_text(encoding="utf-8") if card.exists() else ""
        card.write_text(_usage(name, lists, overrides, root) + model_card, encoding="utf-8")
        licence = next(p for p in (bundle_dir / "LICENSE", root / "LICENSE") if p.is_file())
        shutil.copy2(licence, stage / "LICENSE")
        if (root / "requirements.txt").is_file():
            shutil.copy2(root / "requirements.txt", stage / "requirements.txt")

        metadata = json.loads(meta_file.read_text(encoding="utf-8"))
        plan_file = next((Path(f) for f in model_files if Path(f).name == "plan.json"), None)
        if plan_file is not None:  # the generic path: the data set's channels and classes, not the seed's
            plan = json.loads(plan_file.read_text(encoding="utf-8"))
            metadata["network_data_format"] = data_format_from_plan(plan, metadata.get("network_data_format") or {})
        metadata[HASH_KEY] = hash_files(stage, [f for f in bundle_files(stage) if f not in UNHASHED])
        metadata[CODE_KEY] = code_manifest(stage, packages)
        (stage / "configs" / "metadata.json").write_text(json.dumps(metadata, indent=4) + "\n", encoding="utf-8")

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        archive = out_dir / f"{name}_{metadata.get('version', '0')}.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for rel in bundle_files(stage):
                info = zipfile.ZipInfo(f"{name}/{rel}", date_time=_FIXED_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, (stage / rel).read_bytes())
    return archive
