"""Stop training on a non-finite loss with an error that says what to do, keeping the last good checkpoint."""

from __future__ import annotations

from collections.abc import Callable

from ignite.engine import Engine, Events
from ignite.handlers import TerminateOnNan

from .checkpoint import latest_checkpoint
from .errors import UserFacingError

__all__ = ["NonFiniteLossError", "StopOnNonFiniteLoss"]


class NonFiniteLossError(UserFacingError, RuntimeError):
    """The training loss became NaN or infinite."""


class StopOnNonFiniteLoss(TerminateOnNan):
    """Ignite's :class:`~ignite.handlers.TerminateOnNan` on the loss, ending the run with :class:`NonFiniteLossError`.

    ``TerminateOnNan`` only logs a warning and ends the run as if it had finished, so a script running the bundle
    would go on as if training had succeeded. This handler raises instead: the run exits non-zero with a message
    naming the epoch and iteration and the last good checkpoint. It is checked after every iteration, before the
    epoch ends, so the weights that the non-finite loss has already updated are never saved: the latest
    ``checkpoint_epoch=N.pt`` and ``model.pt`` stay those of the last complete epoch.

    Args:
        output_transform: maps the engine output to the loss (a number, tensor or collection of them).
        ckpt_dir: folder of the trainer's ``checkpoint_epoch=N.pt``, named in the message.
    """

    def __init__(self, output_transform: Callable = lambda x: x, ckpt_dir: str | None = None) -> None:
        super().__init__(output_transform=output_transform)
        self.ckpt_dir = ckpt_dir

    def attach(self, engine: Engine) -> None:
        """Check the loss after every iteration of ``engine`` (MONAI trainers attach handlers this way)."""
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        stopping = engine.should_terminate
        super().__call__(engine)  # logs a warning and calls engine.terminate() on NaN/inf
        if engine.should_terminate and not stopping:
            state = engine.state
            latest = latest_checkpoint(self.ckpt_dir) if self.ckpt_dir else None
            keep = (
                f"The last good checkpoint is {latest}; continue from it with `--resume true` (the optimizer and "
                "learning-rate schedule are restored from it too)."
                if latest is not None
                else f"No checkpoint was written before it (ckpt_dir {self.ckpt_dir})."
            )
            raise NonFiniteLossError(
                f"the training loss is not finite (NaN or inf) at epoch {state.epoch}, iteration {state.iteration} "
                f"(iteration {(state.iteration - 1) % state.epoch_length + 1} of {state.epoch_length} in the epoch); "
                f"training stopped and this epoch's weights were not saved. {keep} Usual causes: a learning rate "
                "too high for the data, a loss that divides by zero, NaN in the inputs."
            )
