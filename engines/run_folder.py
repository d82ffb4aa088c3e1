"""One folder per training run, holding everything needed to repeat it and to use its model.

``runs/<bundle>/<run name>/``::

    configs/train.yaml        the training config with this run's overrides, merged and self-contained
    configs/evaluate.yaml     evaluation of this run's best model (same network, data, plan)
    configs/inference.yaml    inference with it
    configs/metadata.json     the bundle's metadata
    run.json                  the command, the overrides, package versions, git commit, data set, time
    models/ train/ eval/ pred/   checkpoints, TensorBoard logs and pictures, evaluation CSVs, predictions

A run folder is a bundle: ``python -m monai.bundle run --config_file runs/unet/act-prelu/configs/evaluate.yaml``
needs no other override (run from the repository root, where our packages are importable), and the packaging and
export scripts take ``--run_dir``. The run name comes from ``--run_name``, else from the command line's overrides
(paths, devices and evaluation-only keys left out: ``--act prelu --dropout 0.2`` -> ``act-prelu_dropout-0.2``), else ``default``; a new run
never writes into another run's folder (``-2``, ``-3``, ... are appended), ``--resume true`` continues the newest
folder of that name (or the one given with ``--run_dir``).

The overrides are read from the command line that started the process (``python -m monai.bundle run ...``), the
only place MONAI keeps them, or from the generic path's invocation that ``recipe: auto`` runs in its place
(:mod:`engines.recipes`); a bundle run from Python otherwise gets its folder and run.json but no configs/ (a warning
says so). run.json records the data set trained on: evaluation and inference take a run of their own data set.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import platform
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "RunFolderError", "cli_invocation", "default_runs_root", "find_run_dir", "new_run_dir", "record_run",
    "run_name_from_overrides",
]

logger = logging.getLogger(__name__)
# overrides of evaluation and inference only: they never name a run and never tell runs apart
EVALUATION_ONLY = frozenset(
    "eval_files infer_files max_cases infer_image_file max_pages tta inference_mode prune_level output_ext "
    "output_scale metrics_dir prediction_ending run initialize".split()
)
# overrides that do not change what a run computes (paths, devices, flags of the run folder itself)
NOT_IN_NAME = frozenset(
    "dataset_dir device ckpt_dir output_dir run_dir runs_root run_name resume overwrite num_workers config_file "
    "meta_file logging_file args_file store_dir fingerprint_dir".split()
) | EVALUATION_ONLY
RUNS_ROOT_ENV = "UNET_RUNS_ROOT"
RUN_FILE = "run.json"
_PACKAGES = ("torch", "monai", "pytorch-ignite", "numpy", "nibabel", "itk", "pyyaml")
_MAX_NAME = 80


def cli_invocation(argv: Sequence[str] | None = None) -> tuple[list[str], dict[str, Any]] | None:
    """The config files and overrides of a ``python -m monai.bundle run ...`` command line (``sys.argv``).

    Values are parsed as MONAI's command line (Fire) parses them: ``"['a', 'b']"`` is a list, ``2`` an int.

    Returns:
        ``(config_files, overrides)``, or None when ``argv`` is not such a command line (no ``--config_file``).
        While ``recipe: auto`` runs the generic path's config list in place of the command's
        (:func:`engines.recipes.follow_recipe`), that list and its overrides.
    """
    from fire.parser import DefaultParseValue

    from .recipes import handed_over_invocation

    if argv is None and handed_over_invocation() is not None:  # recipe auto ran the generic path's list
        files, overrides = handed_over_invocation()
        return list(files), dict(overrides)
    args = list(sys.argv[1:] if argv is None else argv)
    pairs: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and len(arg) > 2:
            key, eq, value = arg[2:].partition("=")
            if not eq:
                if i + 1 < len(args) and not args[i + 1].startswith("--"):
                    value, i = args[i + 1], i + 1
                else:
                    value = "True"
            pairs[key] = DefaultParseValue(value)
        i += 1
    files = pairs.pop("config_file", None)
    if files is None:
        return None
    if isinstance(files, str):
        files = [f for f in files.split(",") if f] if "," in files and not Path(files).is_file() else [files]
    for key in ("meta_file", "logging_file", "args_file", "tracking"):
        pairs.pop(key, None)
    return [str(f) for f in files], pairs


def _slug(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value
    text = re.sub(r"[^A-Za-z0-9.+]+", "-", text).strip("-")
    return text[:24] or "x"


def _folder_name(run_name: str) -> str:
    """A run name as a folder name: characters other than letters, digits, ``.``, ``_`` and ``-`` become ``-``
    (the name is not shortened: :func:`run_name_from_overrides` keeps names short, a user's name is kept)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(run_name)).strip("-") or "default"


def run_name_from_overrides(overrides: Mapping[str, Any]) -> str:
    """``act-prelu_dropout-0.2`` from ``{"act": "prelu", "dropout": 0.2}`` (paths, devices and run-folder flags
    left out; long names shortened with a hash); ``default`` when nothing is left."""
    parts = [f"{_slug(k.replace('#', '.'))}-{_slug(v)}" for k, v in sorted(overrides.items()) if k not in NOT_IN_NAME]
    name = "_".join(parts) or "default"
    if len(name) > _MAX_NAME:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: _MAX_NAME - 9]}-{digest}"
    return name


def _bundle_name(bundle_root: str | os.PathLike) -> str:
    return Path(str(bundle_root)).resolve().name or "bundle"


class RunFolderError(FileNotFoundError):
    """No run folder fits an evaluation / inference / export; the message names the folder searched and what to do."""


def default_runs_root() -> str:
    """Folder of all run folders: ``$UNET_RUNS_ROOT`` when set (the tests point it at a temporary folder), else
    ``runs`` (relative to the working directory, the repository root)."""
    return os.environ.get(RUNS_ROOT_ENV) or "runs"


def _model_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in overrides.items() if k not in NOT_IN_NAME and not k.startswith("_")}


def _same_folder(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _recipe_kind(recipe: Any) -> str:
    """``default`` for the generic path's runs, ``seed`` for the others (``auto`` resolved to the seed's)."""
    return "default" if str(recipe).strip().lower() == "default" else "seed"


def find_run_dir(
    runs_root: str | os.PathLike, bundle_root: str | os.PathLike, run_name: str = "",
    dataset_dir: str | os.PathLike | None = None, recipe: str | None = None,
) -> str:
    """The training run an evaluation / inference of this bundle uses: the newest run folder under
    ``<runs_root>/<bundle>`` (named ``run_name``, if given), trained on ``dataset_dir`` with the same recipe (the
    seed's, or the generic path's ``default``; runs recorded on another data set or with the other recipe are skipped:
    one bundle trains on many data sets), whose training overrides include every override of this command line that
    changes what a run computes (``--act prelu`` finds the run trained with ``--act prelu``; no such override: the
    newest run).

    Raises:
        RunFolderError: no run fits; the message lists the runs there and says to train first or give ``--run_dir``.
    """
    bundle_dir = Path(runs_root) / _bundle_name(bundle_root)
    invocation = cli_invocation()
    wanted = _model_overrides(invocation[1]) if invocation else {}
    runs, elsewhere = [], []
    for folder in sorted(bundle_dir.glob("*/" + RUN_FILE)):
        if run_name and not re.fullmatch(re.escape(_folder_name(run_name)) + r"(-\d+)?", folder.parent.name):
            continue
        try:
            record = json.loads(folder.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        trained_on = record.get("dataset_dir")
        if dataset_dir and trained_on and not _same_folder(trained_on, dataset_dir):
            elsewhere.append(f"{folder.parent.name} ({trained_on})")
            continue
        if recipe is not None and "recipe" in record and _recipe_kind(record["recipe"]) != _recipe_kind(recipe):
            elsewhere.append(f"{folder.parent.name} (the {_recipe_kind(record['recipe'])} recipe)")
            continue
        trained = _model_overrides(record.get("overrides") or {})
        if all(k in trained and trained[k] == v for k, v in wanted.items()):
            runs.append((str(record.get("created", "")), folder.stat().st_mtime, folder.parent))
    if not runs:
        known = sorted(p.parent.name for p in bundle_dir.glob("*/" + RUN_FILE))
        which = f" named {run_name!r}" if run_name else ""
        trained_with = f" trained with {wanted}" if wanted else ""
        on = f" on {dataset_dir}" if dataset_dir else ""
        other = f"; trained on other data sets or recipes: {', '.join(elsewhere)}" if elsewhere else ""
        raise RunFolderError(
            f"{bundle_dir}: no training run{which}{on}{trained_with} (runs there: {', '.join(known) or 'none'}{other}); "
            "train first, or give the run folder with --run_dir runs/<bundle>/<name> (a model trained on another data "
            "set too; or the checkpoint folder with --ckpt_dir)"
        )
    return str(max(runs)[2])


def new_run_dir(
    runs_root: str | os.PathLike,
    bundle_root: str | os.PathLike,
    run_name: str = "",
    resume: bool | str = False,
    unique: bool = True,
) -> str:
    """The folder of this run, ``<runs_root>/<bundle>/<name>`` (not created here: the run record creates it).

    Args:
        runs_root: folder of all runs (``runs``).
        bundle_root: the bundle's folder; its name groups the runs.
        run_name: the user's name for the run; empty: from the command line's overrides (see the module docstring).
        resume: continue the newest existing folder of that name instead of starting a new one.
        unique: append ``-2``, ``-3``, ... when the folder holds files already (False for multi-process launches,
            whose ranks must agree on one folder: the output guard then refuses a used name).
    """
    resume = str(resume).strip().lower() in ("1", "true", "yes", "on")
    if not run_name:
        invocation = cli_invocation()
        run_name = run_name_from_overrides(invocation[1]) if invocation else "default"
    base = Path(runs_root) / _bundle_name(bundle_root) / _folder_name(run_name)
    if not unique:
        return str(base)
    candidates = [base] + [base.with_name(f"{base.name}-{k}") for k in range(2, 1000)]
    used = [c for c in candidates if c.is_dir() and any(c.iterdir())]
    if resume:
        return str(used[-1] if used else base)
    return str(next(c for c in candidates if c not in used))


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("+local-changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _workflow_files(files: Sequence[str], workflow: str) -> list[str] | None:
    """The config list of ``workflow`` from the training list: the training files, then the workflow's override
    file of the last file that has one: ``<name>_<workflow>.yaml`` beside ``<name>.yaml`` (the generic path's
    ``any_dataset_evaluate.yaml``), or ``<workflow>.yaml`` beside a ``train.yaml`` (None if there is none)."""
    for f in reversed(files):
        path = Path(f)
        override = path.with_name(f"{workflow}.yaml" if path.name == "train.yaml" else f"{path.stem}_{workflow}.yaml")
        if override.is_file():
            return [*files, str(override)]
    return None


def _absolute_paths(overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(overrides)
    for key in ("dataset_dir",):
        value = out.get(key)
        if isinstance(value, str) and value and not value.startswith(("$", "@", "%")) and Path(value).exists():
            out[key] = str(Path(value).resolve())
    return out


def record_run(
    run_dir: str | os.PathLike,
    workflows: Mapping[str, Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
    root: str | os.PathLike | None = None,
    dataset_dir: str | os.PathLike | None = None,
    recipe: str | None = None,
) -> Path:
    """Write the run record into ``run_dir`` (created): ``run.json`` and, when the process was started by
    ``python -m monai.bundle run``, ``configs/`` with one self-contained config per workflow.

    Args:
        run_dir: the run's folder.
        workflows: per workflow (``train``, ``evaluate``, ``inference``), keys its config must set besides the
            command line's overrides, e.g. ``{"evaluate": {"output_dir": "<run_dir>/eval"}}``. Every config gets
            ``run_dir`` and ``ckpt_dir`` of this run.
        extra: more facts for ``run.json`` (e.g. the data set's fingerprint hash).
        root: repository root (macros and relative paths resolve against it); default: the working directory.
        dataset_dir: the data set trained on (recorded absolute, so that :func:`find_run_dir` picks a run of the
            data set it is asked about).
        recipe: the bundle's ``recipe`` key (``default``: the generic path; anything else: the seed's), recorded for
            :func:`find_run_dir` likewise.

    Returns:
        The run folder.
    """
    try:  # sharing imports engines only lazily; no cycle at import time
        from sharing.configs import flatten_config
    except ImportError:  # a packaged bundle run outside the repository ships no `sharing` package
        flatten_config = None

    run_dir = Path(run_dir).resolve()
    root = Path(root or os.getcwd()).resolve()
    (run_dir / "configs").mkdir(parents=True, exist_ok=True)
    invocation = cli_invocation()
    record: dict[str, Any] = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": [Path(sys.executable).name, "-m", "monai.bundle", *sys.argv[1:]],
        "cwd": str(root),
        "git_commit": _git_commit(root),
        "versions": _versions(),
        **({"dataset_dir": str(Path(dataset_dir).expanduser().resolve())} if dataset_dir else {}),
        **({"recipe": _recipe_kind(recipe)} if recipe is not None else {}),
        **dict(extra or {}),
    }
    if invocation is not None:
        files, overrides = invocation
        overrides = _absolute_paths(overrides)
        record.update(config_files=files, overrides=overrides)
    if invocation is None or flatten_config is None:
        why = "not started by `python -m monai.bundle run`" if invocation is None else "no `sharing` package here"
        logger.warning(f"{run_dir}: {why}; the run's configs are not recorded.")
    else:
        common = {"run_dir": str(run_dir), "ckpt_dir": str(run_dir / "models")}
        for workflow, keys in (workflows or {"train": {}}).items():
            lists = files if workflow == "train" else _workflow_files(files, workflow)
            if lists is None:
                continue
            # the command line's --ckpt_dir wins over the run folder's models/; the workflow's own keys win over both
            given = {k: v for k, v in overrides.items() if workflow == "train" or k != "output_dir"}
            config = flatten_config(lists, {**common, **given, **dict(keys)}, root=root)
            path = run_dir / "configs" / f"{workflow}.yaml"
            _write_yaml(config, path, f"{workflow} of run {run_dir.name}: {' + '.join(lists)} with the run's overrides")
        meta = next((Path(f).with_name("metadata.json") for f in files if Path(f).with_name("metadata.json").is_file()), None)
        if meta is not None:
            (run_dir / "configs" / "metadata.json").write_text(meta.read_text(encoding="utf-8"), encoding="utf-8")
    tmp = run_dir / f".{RUN_FILE}.tmp"
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / RUN_FILE)
    return run_dir


def _write_yaml(config: dict, path: Path, header: str) -> None:
    import yaml

    text = yaml.safe_dump(config, sort_keys=False, width=120, allow_unicode=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(f"# {header}\n# run: python -m monai.bundle run --config_file {path}\n{text}", encoding="utf-8")
    os.replace(tmp, path)
