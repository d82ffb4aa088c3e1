"""Guard a run's output folders: never inside the inputs, never silently over an earlier run's results."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from .flags import as_flag as _as_flag
from .errors import TRACEBACK_FILE, UserFacingError, set_log_folder

__all__ = ["READ_ONLY_WORKFLOWS", "OutputFolderError", "check_outputs", "running_workflow_id"]

# workflows (``python -m monai.bundle run <id>``) that only read: the guard lets them run whatever the folders hold
READ_ONLY_WORKFLOWS = frozenset({"check"})


class OutputFolderError(UserFacingError, RuntimeError):
    """An output folder would overwrite inputs or earlier results."""


def _files(folder: Path) -> list[Path]:
    """The files in ``folder`` (recursively), except the ``traceback.log`` of a run that failed before writing."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p != folder / TRACEBACK_FILE)


def running_workflow_id() -> str | None:
    """The ``run_id`` of the MONAI bundle workflow whose config is being evaluated (``"run"``, ``"check"``, ...).

    ``python -m monai.bundle run check`` runs the bundle's ``initialize`` list before ``check``, and the config has no
    key telling which workflow runs: this looks for the :class:`~monai.bundle.ConfigWorkflow` on the call stack.

    Returns:
        The workflow's ``run_id``, or None when not called from a bundle workflow.
    """
    from monai.bundle import ConfigWorkflow

    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, ConfigWorkflow):
            return owner.run_id
        frame = frame.f_back
    return None


def check_outputs(
    outputs: Sequence[str] | str,
    inputs: Sequence[str] | str = (),
    overwrite: bool | str = False,
    resume: bool | str = False,
) -> None:
    """Refuse to start a run whose outputs would overwrite its inputs or, silently, an earlier run's results.

    Bundles call this first (``initialize``), before any component creates a folder or a file. Read-only workflows
    (:data:`READ_ONLY_WORKFLOWS`: ``python -m monai.bundle run check``) write nothing, so nothing is checked for them.
    Otherwise two rules:

    - an output folder must not be an input folder or lie inside one (``dataset_dir``, the folders of the files
      to segment): outputs never land among the inputs, whatever ``overwrite`` says;
    - an output folder that already holds files is refused unless ``overwrite`` (write over them; nothing is
      deleted beforehand) or ``resume`` (a training continuing from its own checkpoints and logs).

    Args:
        outputs: folders the run writes into (``output_dir``, ``ckpt_dir``).
        inputs: files or folders the run reads; a file stands for its folder.
        overwrite: allow writing into output folders that already hold files (bool or ``"true"``/``"false"``).
        resume: the run continues an earlier one in the same folders (bool or string, as ``overwrite``).

    Once the folders pass, the first one is where a failing run writes its full traceback (``traceback.log``, see
    :func:`engines.errors.set_log_folder`; the guard ignores that file).

    Raises:
        OutputFolderError: naming the folder, what it holds and the flag or override that resolves it.
    """
    if running_workflow_id() in READ_ONLY_WORKFLOWS:
        return
    outputs = [outputs] if isinstance(outputs, (str, Path)) else list(outputs)
    inputs = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    overwrite, resume = _as_flag(overwrite, "overwrite"), _as_flag(resume, "resume")
    input_dirs = {(p.parent if p.is_file() else p) for p in (Path(i).resolve() for i in inputs)}
    for out in dict.fromkeys(Path(o).resolve() for o in outputs):
        for folder in sorted(input_dirs):
            if out == folder or folder in out.parents:
                raise OutputFolderError(
                    f"output folder {out} is inside the input folder {folder}: outputs are never written among the "
                    "inputs. Choose another --output_dir / --ckpt_dir."
                )
        existing = _files(out)
        if existing and not (overwrite or resume):
            names = ", ".join(str(p.relative_to(out)) for p in existing[:3]) + (", ..." if len(existing) > 3 else "")
            raise OutputFolderError(
                f"output folder {out} already holds results ({len(existing)} file(s): {names}). Choose another "
                "folder (--output_dir / --ckpt_dir), continue a training with --resume true, or write over them "
                "with --overwrite true."
            )
    if outputs:
        set_log_folder(Path(outputs[0]).resolve())
