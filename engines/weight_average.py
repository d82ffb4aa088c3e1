"""An exponential moving average of the network's weights (Ignite's ``EMAHandler``) behind one config switch.

The default recipe validates, checkpoints and infers with the average; training steps the online network as before.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from ignite.engine import Engine
from ignite.handlers import EMAHandler

from networks.fusion import unwrap_ddp

from .errors import UserFacingError

__all__ = ["WeightAverage", "WeightAverageError"]


class WeightAverageError(UserFacingError, ValueError):
    """A bad ``ema_momentum`` (or warm-up) in the config."""


class _ForeachEMAHandler(EMAHandler):
    """Ignite's handler with ``handle_buffers="update"``, its update in one ``torch._foreach_lerp_`` over the weights
    and float buffers (``lerp``: ``average + m (online - average)``, the same value as Ignite's two passes per
    tensor) and a copy of the other buffers (batch norm's counters)."""

    def _update_ema_model(self, engine: Engine, name: str) -> None:
        momentum = float(getattr(engine.state, name))
        # paired anew each call: Module.to (the trainer's channels-last conversion, a device move) replaces buffer
        # tensors, so pairs taken once at construction could point at stale ones (~100 pairs: microseconds)
        averaged, copied = [], []
        pairs = [*zip(self.ema_model.parameters(), self.model.parameters()),
                 *zip(self.ema_model.buffers(), self.model.buffers())]  # fmt: skip
        for ema_t, model_t in pairs:
            (averaged if ema_t.is_floating_point() else copied).append((ema_t, model_t))
        with torch.no_grad():
            if averaged:
                torch._foreach_lerp_([e for e, _ in averaged], [m.detach() for _, m in averaged], momentum)
            for ema_t, model_t in copied:
                ema_t.copy_(model_t)


class WeightAverage:
    """The exponential moving average of ``network``'s weights and buffers, updated after every training iteration:
    ``average = (1 - m) * average + m * online`` with momentum ``m`` falling linearly from ``momentum_warmup`` to
    ``momentum`` over the first ``warmup_iters`` iterations (Ignite's :class:`~ignite.handlers.EMAHandler`, batch
    norm statistics averaged too: ``handle_buffers="update"``).

    :attr:`model` is the network to validate, checkpoint as ``model`` and infer with: the average, or ``network``
    itself when ``momentum`` is 0 (off: then attaching adds no handler and the checkpoint entry is empty). With the
    average on, the checkpoint entry of this object (:meth:`state_dict`) holds the online weights and the warm-up's
    position, so a resumed run continues both.

    Args:
        network: the trained network (a ``DistributedDataParallel`` wrapper is looked through: every rank keeps the
            same average, as DDP keeps the same weights).
        momentum: weight of the online network in each update after the warm-up, in ``[0, 1)``; 0: off. 0.01
            averages over roughly the last 100 iterations.
        momentum_warmup: the momentum of the first iteration (at least ``momentum``, at most 1): early weights,
            far from the final ones, fade out of the average quickly.
        warmup_iters: iterations from ``momentum_warmup`` to ``momentum`` (at least 1).
        name: key of the ``momentum`` config entry, for the error message.

    Raises:
        WeightAverageError: a momentum outside ``[0, 1)``, a warm-up momentum outside ``[momentum, 1]`` or a
            warm-up shorter than one iteration; the message names ``name``.

    Example (YAML)::

        weight_average:
          _target_: engines.WeightAverage
          network: "@network"
          momentum: 0.01
        # the evaluator's network and the checkpoints' "model": "$@weight_average.model"
    """

    def __init__(
        self,
        network: torch.nn.Module,
        momentum: float = 0.01,
        momentum_warmup: float = 0.5,
        warmup_iters: int = 100,
        name: str = "ema_momentum",
    ) -> None:
        momentum = _number(momentum, name)
        if not 0.0 <= momentum < 1.0:
            raise WeightAverageError(f"--{name} must be in [0, 1) (0: no weight average), got {momentum!r}.")
        self.network = unwrap_ddp(network)
        self.handler: _ForeachEMAHandler | None = None
        self.model: torch.nn.Module = network
        if momentum == 0.0:
            return
        momentum_warmup = _number(momentum_warmup, f"{name} warm-up")
        if not momentum <= momentum_warmup <= 1.0:
            raise WeightAverageError(
                f"the warm-up momentum of --{name} must be in [{momentum}, 1] (at least the momentum), "
                f"got {momentum_warmup!r}."
            )
        if isinstance(warmup_iters, bool) or not isinstance(warmup_iters, int) or warmup_iters < 1:
            raise WeightAverageError(f"the warm-up of --{name} must be at least 1 iteration, got {warmup_iters!r}.")
        self.handler = _ForeachEMAHandler(
            self.network, momentum=momentum, momentum_warmup=momentum_warmup, warmup_iters=warmup_iters,
            handle_buffers="update",
        )
        self.model = self.handler.ema_model

    @property
    def enabled(self) -> bool:
        """Whether an average is kept (``momentum`` > 0)."""
        return self.handler is not None

    def attach(self, engine: Engine) -> None:
        """Update the average after every iteration of the trainer ``engine`` (nothing when off)."""
        if self.handler is not None:
            self.handler.attach(engine, name="ema_momentum", warn_if_exists=False)

    def state_dict(self) -> dict[str, Any]:
        """The online network's weights and the warm-up's iteration count (empty when off: the network itself is
        the checkpoint's ``model``)."""
        if self.handler is None:
            return {}
        scheduler = getattr(self.handler, "momentum_scheduler", None)
        return {"online": self.network.state_dict(), "step": int(scheduler.event_index) if scheduler else 0}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (after :meth:`attach`, as a resuming checkpoint loader does)."""
        if self.handler is None or not state:
            return
        self.network.load_state_dict(state["online"])
        scheduler = getattr(self.handler, "momentum_scheduler", None)
        if scheduler is not None:
            scheduler.event_index = int(state.get("step", 0))


def _number(value: Any, name: str) -> float:
    """``value`` as a finite float (the command line may give a string), else the one-line error naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise WeightAverageError(f"--{name} must be a number, got {value!r}.") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise WeightAverageError(f"--{name} must be a finite number, got {value!r}.")
    return number
