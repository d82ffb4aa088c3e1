"""Which recipe a bundle runs with: its seed's (the paper's data pipeline, loss and schedule), or the default recipe of
the generic path (``bundles/common/configs/any_dataset.yaml``: any registered data set, planned from its fingerprint).

Every base bundle's ``train.yaml`` has the top-level key ``recipe``:

- ``auto`` (the default): the seed's recipe on the seed's data (its format, and the channels and labels its data block
  expects: MSD Task01's 4 modalities and labels 0..3 for ``unet``); the default recipe on any other data set;
- ``seed``: always the seed's recipe (another data set then fails the seed's checks, naming the file);
- ``default``: always the default recipe, the seed's data set included.

The choice is made by the first item of each workflow's ``initialize`` list (:func:`follow_recipe`), the only point
where a MONAI bundle can still change course: MONAI resolves a config eagerly (every ``@`` reference of an expression
is instantiated before the expression runs), so one parsed config cannot hold both recipes and build only one. When
the default recipe is chosen, :func:`follow_recipe` runs the same command again with the generic path's config
list, in the same process: the bundle's ``train.yaml`` (and its override files, e.g. a variant's ``variant.yaml``),
then ``any_dataset.yaml`` and the workflow's ``any_dataset_<workflow>.yaml``, with the command's overrides; the outer
run then does nothing more. The equivalent command line is printed, so the run can be repeated explicitly.
"""

from __future__ import annotations

import inspect
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import UserFacingError

__all__ = [
    "RECIPES",
    "RecipeError",
    "current_invocation",
    "follow_recipe",
    "generic_config_files",
    "handed_over_invocation",
    "seed_data_mismatch",
]

logger = logging.getLogger(__name__)
RECIPES = ("auto", "seed", "default")
ROOT = Path(__file__).resolve().parents[1]
# the generic path's files (catalog.GENERIC in the repository; engines ships in packaged bundles, catalog does not)
GENERIC_DIR = ROOT / "bundles" / "common" / "configs"
GENERIC = "any_dataset.yaml"
# a base bundle's workflow files (overrides of its train.yaml) and the generic path's counterpart of each
_WORKFLOW_FILES = {"evaluate.yaml": "evaluate", "inference.yaml": "inference", "multi_gpu_train.yaml": "multi_gpu_train"}
_SEED_ONLY_FILES = {"slice_store.yaml"}
# the handed-over invocations being run (innermost last): engines.run_folder records these instead of sys.argv
_HANDED_OVER: list[tuple[list[str], dict[str, Any]]] = []


class RecipeError(UserFacingError, ValueError):
    """A recipe that cannot be followed: an unknown name, or a workflow the default recipe does not have."""


def seed_data_mismatch(check: Any) -> str | None:
    """Why the data set of a bundle's integrity check is not its seed's data, or None when it is (or when that cannot
    be told: the folder is no known format, or its discovery fails; the seed's own checks then name the problem).

    Args:
        check: the bundle's ``data#integrity_check`` (:class:`formats.integrity.DatasetIntegrityCheck`): the seed's
            format, the data set folder, and what the seed expects (``num_channels``, ``labels``, format options).
    """
    from data.errors import DatasetError
    from formats import FORMATS

    folder = Path(check.dataset_dir).expanduser()
    try:
        found = FORMATS.detect(folder)
    except DatasetError:
        return None
    if found != check.data_format:
        return f"{folder} is a {found} data set, the seed's is {check.data_format}"
    options = dict(check.options)
    channels, labels = options.pop("num_channels", None), options.pop("labels", None)
    if channels is None and labels is None:
        return None
    try:
        spec, report = FORMATS.discover(folder, found, **options)
    except (DatasetError, OSError, ValueError):
        return None
    if spec is None or report.errors:
        return None
    if channels is not None and spec.num_channels != int(channels):
        return f"{folder} has {spec.num_channels} channel(s) {spec.channel_names}, the seed's {int(channels)}"
    if labels is not None and not spec.region_based:
        values = spec.label_values or sorted(int(v) for v in spec.labels.values())
        if sorted(int(v) for v in values) != sorted(int(v) for v in labels):
            return f"{folder} has labels {sorted(values)}, the seed's {sorted(int(v) for v in labels)}"
    return None


def generic_config_files(files: Sequence[str | os.PathLike], generic_dir: str | os.PathLike = GENERIC_DIR) -> list[str]:
    """The generic path's config list of the same bundle and workflow as ``files`` (a base bundle's list).

    ``train.yaml`` and the bundle's override files stay in their order, then ``any_dataset.yaml``; each workflow file
    of the base bundle (``evaluate.yaml``, ``inference.yaml``) is replaced by the generic path's
    ``any_dataset_<workflow>.yaml``, after it, in the same order.

    Raises:
        RecipeError: a workflow or file the default recipe has no counterpart for (multi-GPU training, the seed's
            slice store), naming it.
    """
    generic_dir = Path(generic_dir)
    kept, workflows = [], []
    for f in files:
        name = Path(f).name
        if name in _WORKFLOW_FILES:
            workflows.append(_WORKFLOW_FILES[name])
        elif name in _SEED_ONLY_FILES:
            raise RecipeError(
                f"{f}: the seed's slice store has no counterpart in the default recipe (it caches the pre-processed "
                "volumes in memory); leave it out of --config_file, or run the seed's recipe with --recipe seed."
            )
        else:
            kept.append(str(f))
    extra = [generic_dir / GENERIC] + [generic_dir / f"{Path(GENERIC).stem}_{w}.yaml" for w in workflows]
    for path, workflow in zip(extra, ["train", *workflows]):
        if not path.is_file():
            packaged = "" if (generic_dir / GENERIC).is_file() else " (a packaged bundle carries its own recipe only)"
            raise RecipeError(
                f"{path}: not found, so the default recipe has no {workflow} workflow here{packaged}; run the seed's "
                "recipe with --recipe seed (on the seed's kind of data)."
            )
    # written as the bundle's own files are: relative to the working directory when they are, else absolute
    relative = bool(kept) and not Path(kept[0]).is_absolute()
    cwd = Path.cwd().resolve()
    return kept + [os.path.relpath(p, cwd) if relative and p.resolve().is_relative_to(cwd) else str(p) for p in extra]


# arguments of the workflow itself (not config overrides) that ``create_workflow`` passes on
_WORKFLOW_ARGS = ("meta_file", "logging_file", "init_id", "run_id", "final_id", "tracking", "workflow_type",
                  "properties_path")


def current_invocation() -> tuple[list[str], dict[str, Any], dict[str, Any]] | None:
    """The config files, overrides and workflow arguments (meta and logging files, ids, tracking) of the MONAI
    workflow being set up: the innermost ``create_workflow`` call of ``monai.bundle`` on the call stack
    (``python -m monai.bundle run ...`` and ``monai.bundle.run(...)`` alike). None outside such a call."""
    frame = inspect.currentframe()
    try:
        while frame is not None:
            code = frame.f_code
            if code.co_name == "create_workflow" and frame.f_globals.get("__name__", "").startswith("monai.bundle"):
                files = frame.f_locals.get("config_file")
                args = frame.f_locals.get("_args")
                if files is None or not isinstance(args, dict):
                    return None
                files = [str(f) for f in ([files] if isinstance(files, (str, os.PathLike)) else files)]
                overrides = {k: v for k, v in args.items() if k not in _WORKFLOW_ARGS}
                return files, overrides, {k: v for k, v in args.items() if k in _WORKFLOW_ARGS}
            frame = frame.f_back
        return None
    finally:
        del frame


def handed_over_invocation() -> tuple[list[str], dict[str, Any]] | None:
    """The generic path's invocation :func:`follow_recipe` is running (innermost), or None."""
    return _HANDED_OVER[-1] if _HANDED_OVER else None


@contextmanager
def _handing_over(files: list[str], overrides: dict[str, Any]):
    _HANDED_OVER.append((files, overrides))
    try:
        yield
    finally:
        _HANDED_OVER.pop()


def _outer_workflow():
    """The ConfigWorkflow whose ``initialize`` list is being run (the innermost on the call stack)."""
    from monai.bundle import ConfigWorkflow

    frame = inspect.currentframe()
    try:
        while frame is not None:
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, ConfigWorkflow) and frame.f_code.co_name in ("initialize", "_run_expr"):
                return candidate
            frame = frame.f_back
        return None
    finally:
        del frame


def _command(files: Sequence[str], overrides: dict[str, Any]) -> str:
    """The command line of a config list and its overrides, quoted for a POSIX shell."""
    listed = shlex.quote("[" + ",".join(f"'{f}'" for f in files) + "]")
    args = " ".join(f"--{shlex.quote(k)} {shlex.quote(str(v))}" for k, v in overrides.items())
    return f"python -m monai.bundle run --config_file {listed} {args}".strip()


def follow_recipe(recipe: str, check: Any) -> str:
    """Follow the bundle's ``recipe`` (see the module docstring): return ``"seed"`` to go on with the seed's recipe
    (whose own checks report a data set it cannot read, each problem with its file), or run the default recipe's
    config list with the same overrides and return ``"default"`` once it has run (the calling workflow's remaining
    ``initialize`` items, ``run`` and ``finalize`` are then emptied).

    Args:
        recipe: ``auto``, ``seed`` or ``default``.
        check: the bundle's ``data#integrity_check`` (the seed's format and expectations, the data set folder).

    Raises:
        RecipeError: an unknown recipe (listing the valid ones); the default recipe outside ``monai.bundle run``
            (the message gives the command); a workflow the default recipe has no counterpart for.
    """
    recipe = str(recipe).strip().lower()
    if recipe not in RECIPES:
        raise RecipeError(f"--recipe must be one of {', '.join(RECIPES)}, got {recipe!r}.")
    why = None if recipe == "seed" else seed_data_mismatch(check) if recipe == "auto" else "--recipe default"
    if why is None:  # the seed's own checks then report whatever is wrong with the data set, as they always did
        logger.info(f"recipe: the seed's ({check.dataset_dir}: {check.data_format} data as the seed's)")
        return "seed"
    invocation, workflow = current_invocation(), _outer_workflow()
    if invocation is None or workflow is None:
        raise RecipeError(
            f"recipe {recipe}: {why}; the default recipe runs through `python -m monai.bundle run` (or "
            "monai.bundle.run) with the generic path's config list (bundles/common/configs/any_dataset.yaml after "
            "the bundle's files), or use --recipe seed."
        )
    files, overrides, workflow_args = invocation
    generic = generic_config_files(files)
    overrides = {k: v for k, v in overrides.items() if k != "recipe"}
    print(f"recipe: the default recipe, because {why}; the same as\n  {_command(generic, overrides)}", file=sys.stderr)
    from monai.bundle.scripts import create_workflow

    with _handing_over(generic, overrides):
        inner = create_workflow(config_file=generic, **workflow_args, **overrides)
        inner.run()
        inner.finalize()
    parser = workflow.parser
    remaining = len(parser[workflow.init_id]) if isinstance(parser.get(workflow.init_id), list) else 0
    # the outer run is done: its other initialize items (the seed's checks, its run folder) must not run
    parser[workflow.init_id] = ["$None"] * remaining
    parser[workflow.run_id] = []
    if workflow.final_id in parser:
        parser[workflow.final_id] = []
    return "default"
