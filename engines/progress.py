"""A progress bar handler that can be declared in a bundle's list of train handlers."""

from __future__ import annotations

from collections.abc import Callable

from ignite.engine import Engine
from ignite.handlers import ProgressBar

__all__ = ["ProgressBarHandler"]


class ProgressBarHandler:
    """Ignite's tqdm :class:`~ignite.handlers.ProgressBar` with an ``attach(engine)`` that MONAI engines call.

    MONAI's trainers attach every handler with ``handler.attach(engine)`` only, so Ignite's bar could not show
    the loss; this one carries its ``output_transform``.

    Args:
        output_transform: maps the engine output to a number or dict shown on the bar (e.g. the loss).
        persist: keep the bar of each finished epoch on screen.
        desc: text in front of the bar; default ``"Epoch [e/E]"`` from Ignite.
    """

    def __init__(self, output_transform: Callable | None = None, persist: bool = True, desc: str | None = None):
        self.output_transform = output_transform
        self.persist = persist
        self.desc = desc

    def attach(self, engine: Engine) -> None:
        """Attach a new bar to ``engine``."""
        kwargs = {"persist": self.persist}
        if self.desc is not None:
            kwargs["desc"] = self.desc
        bar = ProgressBar(**kwargs)
        transform = self.output_transform
        if transform is not None:
            bar.attach(engine, output_transform=lambda out: {"loss": transform(out)})
        else:
            bar.attach(engine)
