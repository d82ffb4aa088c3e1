"""Checks before the long part of a training: output folders writable, room for the checkpoints, tiles that fit.

Bundles call :func:`check_before_run` in ``initialize``, right after :func:`engines.check_outputs`, so that a read-only
output or checkpoint folder stops the run before anything is loaded; :class:`engines.LatestCheckpointHandler` checks
the free space for the checkpoints (:func:`check_checkpoint_space`, from the model's size) when training starts, before the
first epoch. The ISBI bundle also calls :func:`check_tile_fits`: pages smaller than a training tile would fail deep
inside the padding transforms. None of them builds the run's network or draws from its random stream.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from .errors import UserFacingError
from .outputs import READ_ONLY_WORKFLOWS, running_workflow_id

__all__ = [
    "CHECKPOINT_FACTOR",
    "PreflightError",
    "check_before_run",
    "check_checkpoint_space",
    "check_free_space",
    "check_tile_fits",
    "check_writable",
    "checkpoint_bytes",
    "format_bytes",
]

# bytes on disk per byte of model, while a training saves: the latest checkpoint_epoch=N.pt (model + Adam's two
# moment buffers: 3x) and the best model.pt (1x), each present twice while its new version is written beside the
# old one (the atomic save replaces the file only once the new one is complete)
CHECKPOINT_FACTOR = 2 * (3 + 1)


class PreflightError(UserFacingError, RuntimeError):
    """A run would fail later (unwritable folder, no room for checkpoints, input too small for the network)."""


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _existing_ancestor(folder: Path) -> Path:
    folder = folder.absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_writable(folders: Sequence[str | os.PathLike] | str | os.PathLike) -> None:
    """Write and delete a small file in each folder; for a folder that does not exist yet, create and delete a
    folder in its nearest existing parent (as the run will create it). Nothing is left behind.

    Args:
        folders: the run's output folders.

    Raises:
        PreflightError: naming the folder that cannot be created or written, the system's reason, and what to do.
    """
    folders = [folders] if isinstance(folders, (str, os.PathLike)) else list(folders)
    for folder in dict.fromkeys(Path(f).absolute() for f in folders):
        parent = _existing_ancestor(folder)
        try:
            if parent == folder:
                with tempfile.NamedTemporaryFile(dir=folder, prefix=".preflight-"):
                    pass
            else:
                os.rmdir(tempfile.mkdtemp(dir=parent, prefix=".preflight-"))
        except OSError as err:
            reason = err.strerror or type(err).__name__
            where = "" if parent == folder else f" (it would be created in {parent})"
            raise PreflightError(
                f"output folder {folder} is not writable{where}: {reason}. The run would fail when it first saves "
                "there: make it writable (chmod u+w, or another owner) or choose another folder (--output_dir / "
                "--ckpt_dir)."
            ) from err


def checkpoint_bytes(network: torch.nn.Module) -> int:
    """Bytes of the network's parameters and buffers (what ``model.pt`` holds, roughly)."""
    tensors = list(network.parameters()) + list(network.buffers())
    return int(sum(t.numel() * t.element_size() for t in tensors))


def check_free_space(folder: str | os.PathLike, needed: int, what: str = "the checkpoints") -> None:
    """Raise when the file system of ``folder`` has less than ``needed`` bytes free.

    Args:
        folder: the folder to be written (it need not exist yet: its nearest existing parent is measured).
        needed: bytes the run will write there.
        what: what the bytes are for, quoted in the message.

    Raises:
        PreflightError: naming the folder, the bytes needed and the bytes free.
    """
    folder = Path(folder).absolute()
    free = shutil.disk_usage(_existing_ancestor(folder)).free
    if free < needed:
        raise PreflightError(
            f"not enough free space for {what} in {folder}: about {format_bytes(needed)} ({needed} bytes) needed, "
            f"{format_bytes(free)} free. Free some space or choose a folder on another disk (--ckpt_dir)."
        )


def check_before_run(
    outputs: Sequence[str | os.PathLike] | str | os.PathLike,
    ckpt_dir: str | os.PathLike | None = None,
    network: torch.nn.Module | None = None,
    factor: float = CHECKPOINT_FACTOR,
) -> None:
    """Checks before training: every output folder writable, and room for the checkpoints in ``ckpt_dir``.

    Does nothing in read-only workflows (``python -m monai.bundle run check``; see :func:`engines.check_outputs`).

    Args:
        outputs: the run's output folders (``output_dir``, ``ckpt_dir``); nothing is created.
        ckpt_dir: the checkpoint folder, measured for free space (with ``network``).
        network: the model to be trained; its size times ``factor`` is the space needed.
        factor: bytes on disk per byte of model (:data:`CHECKPOINT_FACTOR`).

    Raises:
        PreflightError: a folder not writable, or too little space; the message names the folder and what to do.
    """
    if running_workflow_id() in READ_ONLY_WORKFLOWS:
        return
    check_writable(outputs)
    if ckpt_dir is not None and network is not None:
        check_checkpoint_space(ckpt_dir, network, factor)


def check_checkpoint_space(
    ckpt_dir: str | os.PathLike, networks: torch.nn.Module | Sequence[torch.nn.Module], factor: float = CHECKPOINT_FACTOR
) -> None:
    """Raise when ``ckpt_dir``'s disk has less room than ``factor`` times the size of ``networks``.

    Args:
        ckpt_dir: the checkpoint folder.
        networks: the model(s) saved in the checkpoints.
        factor: bytes on disk per byte of model (:data:`CHECKPOINT_FACTOR`).

    Raises:
        PreflightError: naming the folder, the bytes needed and free.
    """
    networks = [networks] if isinstance(networks, torch.nn.Module) else list(networks)
    model = sum(checkpoint_bytes(n) for n in networks)
    what = f"the checkpoints (a {format_bytes(model)} model; model, optimizer state and best model, {factor:g}x)"
    check_free_space(ckpt_dir, int(model * factor), what)


def check_tile_fits(
    image: str | os.PathLike,
    tile_size: int,
    network: torch.nn.Module | Callable[[], torch.nn.Module],
) -> None:
    """Raise when the pages of the stack ``image`` cannot give training tiles of ``tile_size`` output pixels.

    A valid-padding network sees a tile of ``tile_input`` pixels (the output tile plus a mirrored context of
    ``(tile_input - tile_output) / 2`` on each side) and predicts its centre ``tile_output``. A page must hold a whole
    output tile, and be larger than the context (mirroring reflects the page once). Read-only workflows and stacks
    that cannot be read here are skipped (the data checks name those).

    Args:
        image: the training stack (a multi-page TIFF); its first page's size is checked.
        tile_size: output pixels of a training tile, as the bundle's ``tile_size``.
        network: the network, or a function that builds one with the same size arithmetic (``input_size_for``,
            ``output_size``; e.g. the bundle's network at width 1). A function is called with the random state
            saved and restored, so the run's seeded random stream is not touched.

    Raises:
        PreflightError: naming the file, the page size, the smallest valid size and the options that change it.
    """
    if running_workflow_id() in READ_ONLY_WORKFLOWS:
        return
    try:
        import tifffile

        with tifffile.TiffFile(image) as tif:
            page_shape = tuple(int(n) for n in tif.pages[0].shape[:2])
    except Exception:  # noqa: BLE001 - not a readable TIFF: the data pipeline reports it with its file
        return
    if callable(network) and not isinstance(network, torch.nn.Module):
        with torch.random.fork_rng(devices=[]):
            network = network()
    tile_input = int(network.input_size_for(int(tile_size)))
    tile_output = int(network.output_size(tile_input))
    margin = (tile_input - tile_output) // 2
    smallest = max(tile_output, margin + 1)
    if any(n < smallest for n in page_shape):
        raise PreflightError(
            f"{image}: pages of {page_shape} pixels are smaller than a training tile: with --tile_size {tile_size} "
            f"(network input {tile_input}, output {tile_output}, {margin} px of mirrored context) pages must be at "
            f"least {smallest} x {smallest}. Use larger pages, or a smaller --tile_size (at most the page size; "
            f"the context of {margin} px, set by --depth, must stay below the page size)."
        )
