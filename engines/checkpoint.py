"""Latest-state checkpoints for resuming training."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ignite.engine import Engine
from monai.handlers import CheckpointLoader, CheckpointSaver

__all__ = ["LatestCheckpointHandler", "latest_checkpoint"]

_EPOCH_FILE = re.compile(r"checkpoint_epoch=(\d+)\.pt$")


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """Return the ``checkpoint_epoch=N.pt`` file with the largest N in ``ckpt_dir``, or None."""
    found = []
    for path in Path(ckpt_dir).glob("checkpoint_epoch=*.pt"):
        match = _EPOCH_FILE.search(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


class LatestCheckpointHandler:
    """Save model, optimizer and trainer state every epoch (keeping the latest), and optionally resume from it.

    The trainer is added to the saved objects when the handler is attached, so a bundle config can declare
    this handler inside the trainer's own handler list without a reference cycle.

    Args:
        ckpt_dir: folder of ``checkpoint_epoch=N.pt``.
        save_dict: objects with ``state_dict`` to save besides the trainer, e.g. ``{"model": net, "optimizer": opt}``.
        resume: load the latest checkpoint in ``ckpt_dir`` (if any) when training starts; the trainer then
            continues from the saved epoch up to its ``max_epochs``.
        save_interval: save every this many epochs.
    """

    def __init__(self, ckpt_dir: str, save_dict: dict, resume: bool = False, save_interval: int = 1) -> None:
        self.ckpt_dir = ckpt_dir
        self.save_dict = dict(save_dict)
        self.resume = resume
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
                CheckpointLoader(load_path=str(path), load_dict=objects, map_location="cpu").attach(engine)
        CheckpointSaver(
            save_dir=self.ckpt_dir, save_dict=objects, save_interval=self.save_interval, n_saved=1
        ).attach(engine)
