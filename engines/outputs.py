"""Guard a run's output folders: never inside the inputs, never silently over an earlier run's results."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .checkpoint import _as_flag

__all__ = ["OutputFolderError", "check_outputs"]


class OutputFolderError(RuntimeError):
    """An output folder would overwrite inputs or earlier results."""


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def check_outputs(
    outputs: Sequence[str] | str,
    inputs: Sequence[str] | str = (),
    overwrite: bool | str = False,
    resume: bool | str = False,
) -> None:
    """Refuse to start a run whose outputs would overwrite its inputs or, silently, an earlier run's results.

    Bundles call this first (``initialize``), before any component creates a folder or a file. Two rules:

    - an output folder must not be an input folder or lie inside one (``dataset_dir``, the folders of the files
      to segment): outputs never land among the inputs, whatever ``overwrite`` says;
    - an output folder that already holds files is refused unless ``overwrite`` (write over them; nothing is
      deleted beforehand) or ``resume`` (a training continuing from its own checkpoints and logs).

    Args:
        outputs: folders the run writes into (``output_dir``, ``ckpt_dir``).
        inputs: files or folders the run reads; a file stands for its folder.
        overwrite: allow writing into output folders that already hold files (bool or ``"true"``/``"false"``).
        resume: the run continues an earlier one in the same folders (bool or string, as ``overwrite``).

    Raises:
        OutputFolderError: naming the folder, what it holds and the flag or override that resolves it.
    """
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
