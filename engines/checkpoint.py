"""Latest-state checkpoints for resuming training."""

from __future__ import annotations

import errno
import logging
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import torch
from ignite.engine import Engine, Events
from ignite.handlers import DiskSaver
from monai.handlers import CheckpointLoader, CheckpointSaver

from .distributed import is_main_process
from .errors import UserFacingError
from .flags import FlagError, as_flag as _as_flag
from .weight_average import WeightAverage

__all__ = [
    "AtomicCheckpointSaver", "CheckpointWriteError", "FlagError", "LatestCheckpointHandler", "ResumeError",
    "latest_checkpoint",
]
_BEST_KEY = "best_checkpoint"  # key, in checkpoint_epoch=N.pt, of the best-model saver's tracking state

_EPOCH_FILE = re.compile(r"checkpoint_epoch=(\d+)\.pt$")


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """Return the ``checkpoint_epoch=N.pt`` file with the largest N in ``ckpt_dir``, or None."""
    found = []
    for path in Path(ckpt_dir).glob("checkpoint_epoch=*.pt"):
        match = _EPOCH_FILE.search(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


class CheckpointWriteError(UserFacingError, OSError):
    """A checkpoint could not be written (disk full, quota); the message names the file."""


class ResumeError(UserFacingError, ValueError):
    """``--resume`` found a checkpoint without an entry the run needs; the message names the file."""


# torch's zip writer on a short write: "[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598",
# "PytorchStreamWriter failed writing file ...", or, for small files, "basic_ios::clear: iostream error"
_TORCH_WRITE_FAILURES = ("unexpected pos", "PytorchStreamWriter failed", "basic_ios::clear")


def _is_write_failure(err: BaseException) -> bool:
    """``OSError`` ENOSPC / EDQUOT, or torch's zip writer failing on a short write."""
    if isinstance(err, OSError):
        return err.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(err, RuntimeError) and any(s in str(err) for s in _TORCH_WRITE_FAILURES)


class _AtomicDiskSaver(DiskSaver):
    """Ignite's :class:`~ignite.handlers.DiskSaver` with ``atomic=True`` (write a temporary file in the same folder,
    then ``os.replace`` it onto the target), optionally under one fixed file name.

    With a fixed name, ``remove`` does nothing: Ignite's ``Checkpoint`` removes the file it is replacing *before*
    writing the new one, which for a fixed name would delete the only copy; the atomic replace does the removal.
    """

    def __init__(self, dirname: str, filename: str | None = None) -> None:
        super().__init__(dirname=dirname, atomic=True, create_dir=True, require_empty=False)
        self.filename = filename

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        path = Path(self.dirname) / (self.filename or filename)
        try:
            super().__call__(checkpoint, self.filename or filename, metadata)
        except (OSError, RuntimeError) as err:
            if not _is_write_failure(err):
                raise
            free = shutil.disk_usage(self.dirname).free
            what = "no space left on the disk" if isinstance(err, OSError) else "the disk is probably full"
            raise CheckpointWriteError(
                f"could not write the checkpoint {path}: {what} ({free} bytes free; the previous version of the "
                "file, if any, is intact). Free some space, or continue in a folder on another disk (copy the "
                "checkpoints there, then --ckpt_dir <it> --resume true)."
            ) from err

    def remove(self, filename: str) -> None:
        if self.filename is None:
            super().remove(filename)


class AtomicCheckpointSaver(CheckpointSaver):
    """MONAI's :class:`~monai.handlers.CheckpointSaver` whose files are written atomically.

    MONAI's saver writes with ``DiskSaver(atomic=False)`` and, through Ignite's ``Checkpoint``, deletes the file
    it replaces before writing the new one: a process killed while saving ``model.pt`` leaves no model or a
    truncated one. Here every file is first written to a temporary file in the same folder and then renamed onto
    its name with ``os.replace`` (Ignite's ``DiskSaver(atomic=True)``), so a file is either the old complete one or
    the new complete one; a kill during the write leaves at most a stray ``tmp*`` file beside it. Same arguments
    as :class:`~monai.handlers.CheckpointSaver`.
    """

    def __init__(self, save_dir: str, save_dict: dict, **kwargs) -> None:
        super().__init__(save_dir=save_dir, save_dict=save_dict, **kwargs)
        fixed = {"_final_checkpoint": self._final_filename, "_key_metric_checkpoint": kwargs.get("key_metric_filename")}
        for attr in ("_final_checkpoint", "_key_metric_checkpoint", "_interval_checkpoint"):
            checkpoint = getattr(self, attr)
            if checkpoint is not None:
                checkpoint.save_handler = _AtomicDiskSaver(save_dir, fixed.get(attr))


class _KeyMetricState:
    """The best-by-key-metric tracking of a MONAI :class:`~monai.handlers.CheckpointSaver` (which files it saved with
    which score) as an object with ``state_dict``/``load_state_dict``, so that it can be saved and restored."""

    def __init__(self, saver: CheckpointSaver) -> None:
        if getattr(saver, "_key_metric_checkpoint", None) is None:
            raise ValueError("best_saver must be a CheckpointSaver with save_key_metric=True.")
        self.saver = saver

    def state_dict(self) -> dict:
        return self.saver._key_metric_checkpoint.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.saver.load_state_dict(state_dict)


class LatestCheckpointHandler:
    """Save model, optimizer, LR scheduler and trainer state every epoch (keeping the latest), and optionally resume.

    The trainer's state holds the iteration and the epoch length (epoch = iteration / epoch length). Files are
    written atomically (:class:`AtomicCheckpointSaver`), and an older ``checkpoint_epoch=N.pt`` is deleted only
    after the new one is complete, so a run killed at any moment leaves a complete latest checkpoint.

    The trainer is added to the saved objects when the handler is attached, so a bundle config can declare
    this handler inside the trainer's own handler list without a reference cycle. After each save, every other
    ``checkpoint_epoch=N.pt`` in ``ckpt_dir`` is deleted (Ignite only removes the files it saved in the same
    process, so a resumed run, or a new run into the same folder, would otherwise leave older ones behind and a
    later resume could pick a stale one).

    With ``best_saver`` (the validation's ``CheckpointSaver`` of the best model by the key metric), that saver's
    record of the best score so far is saved too and restored on resume. Otherwise a resumed run would forget it,
    and its first validation would overwrite the best model (``model.pt``) whatever its score. Attach this handler
    after the ``ValidationHandler`` so that the saved record includes the epoch's validation.

    Args:
        ckpt_dir: folder of ``checkpoint_epoch=N.pt``.
        save_dict: objects with ``state_dict`` to save besides the trainer, e.g. ``{"model": net, "optimizer": opt,
            "lr_scheduler": sched}`` (attach the scheduler's ``LrScheduleHandler`` before this handler, so that the
            saved schedule has been stepped for the saved epoch).
        resume: load the latest checkpoint in ``ckpt_dir`` (if any) when training starts; the trainer then
            continues from the saved epoch up to its ``max_epochs``. A bool, or the strings ``"true"``/``"false"``
            that ``--resume true`` on the command line gives.
        save_interval: save every this many epochs.
        best_saver: a ``CheckpointSaver`` with ``save_key_metric=True`` whose tracking state is saved and resumed.

    In a distributed run attach it on every rank: every rank resumes from the checkpoint (so weights, optimizer and
    epoch agree), and only rank 0 writes and deletes files.

    When training starts (before the first epoch), the free space in ``ckpt_dir`` is checked against the size of the
    saved networks (:func:`engines.check_checkpoint_space`): a disk too full for the checkpoints stops the run then,
    not after an epoch.
    """

    def __init__(
        self,
        ckpt_dir: str,
        save_dict: dict,
        resume: bool | str = False,
        save_interval: int = 1,
        best_saver: CheckpointSaver | None = None,
    ) -> None:
        self.ckpt_dir = ckpt_dir
        self.save_dict = dict(save_dict)
        if best_saver is not None:
            self.save_dict[_BEST_KEY] = _KeyMetricState(best_saver)
        self.resume = _as_flag(resume, "resume")
        self.save_interval = save_interval
        self.logger = logging.getLogger(__name__)

    def attach(self, engine: Engine) -> None:
        """Attach the loader (when resuming) and the saver to the trainer ``engine``."""
        objects = {**self.save_dict, "trainer": engine}
        if self.resume:
            path = latest_checkpoint(self.ckpt_dir)
            if path is None:
                self.logger.warning(f"resume requested but no checkpoint_epoch=N.pt in {self.ckpt_dir}: starting anew")
            else:
                self.logger.info(f"resuming from {path}")
                load = self._loadable(path, objects)
                CheckpointLoader(load_path=str(path), load_dict=load, map_location="cpu").attach(engine)
        # n_saved=None: Ignite would delete the previous file before writing the new one; _remove_others deletes
        # it only after the new one is complete (written atomically)
        engine.add_event_handler(Events.STARTED, self._check_space)
        AtomicCheckpointSaver(
            save_dir=self.ckpt_dir, save_dict=objects, save_interval=self.save_interval, n_saved=None
        ).attach(engine)
        engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.save_interval), self._remove_others)

    @staticmethod
    def _loadable(path: Path, objects: dict) -> dict:
        """The entries of ``objects`` to load from ``path``: all but a switched-off weight average (its entry is
        empty, or absent from a checkpoint written before the average existed).

        Raises:
            ResumeError: ``path`` lacks an entry to load; the message names the file and the entries.
        """
        load = {k: v for k, v in objects.items() if not (isinstance(v, WeightAverage) and not v.enabled)}
        saved = torch.load(path, map_location="cpu", weights_only=True)
        missing = sorted(k for k in load if k not in saved)
        if missing:
            hint = (" (a run without the weight average wrote it: resume with --ema_momentum 0)"
                    if any(isinstance(objects[k], WeightAverage) for k in missing) else "")
            raise ResumeError(
                f"{path}: cannot resume, the checkpoint has no {', '.join(repr(k) for k in missing)} entry{hint}; "
                f"or start a new run without --resume."
            )
        return load

    def _check_space(self, engine: Engine) -> None:
        """Before the first epoch: room in ``ckpt_dir`` for the checkpoints (:func:`engines.check_checkpoint_space`)."""
        from .preflight import check_checkpoint_space  # preflight imports this module

        networks = [obj for obj in self.save_dict.values() if isinstance(obj, torch.nn.Module)]
        # a weight average saves the online network beside the average (engines.WeightAverage)
        networks += [obj.network for obj in self.save_dict.values() if isinstance(obj, WeightAverage) and obj.enabled]
        if networks and is_main_process():
            check_checkpoint_space(self.ckpt_dir, networks)

    def _remove_others(self, engine: Engine) -> None:
        """Delete the ``checkpoint_epoch=N.pt`` files other than the one just saved for this epoch."""
        if not is_main_process():
            return  # in a distributed run only rank 0 writes (Ignite's DiskSaver), so only rank 0 cleans up
        current = f"checkpoint_epoch={engine.state.epoch}.pt"
        if not (Path(self.ckpt_dir) / current).is_file():
            return  # the saver did not write where expected: delete nothing
        for path in Path(self.ckpt_dir).glob("checkpoint_epoch=*.pt"):
            if path.name != current and _EPOCH_FILE.search(path.name):
                path.unlink(missing_ok=True)
