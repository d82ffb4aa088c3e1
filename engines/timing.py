"""Timings that a comparison reports, written into ``engine.state.metrics`` so that the stock MONAI handlers
(StatsHandler, TensorBoardStatsHandler, MetricsSaver) log them like any metric."""

from __future__ import annotations

import logging
import time

import torch
from ignite.engine import Engine, Events
from monai.engines.utils import IterationEvents

__all__ = ["EpochTimeHandler", "InferenceTimeHandler", "TimeLimitHandler"]


class EpochTimeHandler:
    """Trainer handler: seconds spent in the epoch's iterations, as ``engine.state.metrics[name]``.

    Ignite sets ``engine.state.times["EPOCH_COMPLETED"]`` to the time of the epoch's iterations (data loading,
    forward, backward, step) before it runs the epoch-completed handlers, so validation run by a
    ``ValidationHandler`` is not included. Declare this handler before the handlers that log metrics.

    Args:
        name: metric name, e.g. ``"train_epoch_time"``.
    """

    def __init__(self, name: str = "train_epoch_time") -> None:
        self.name = name

    def attach(self, engine: Engine) -> None:
        """Register with a trainer ``engine``."""
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        engine.state.metrics[self.name] = float(engine.state.times[Events.EPOCH_COMPLETED.name])


class InferenceTimeHandler:
    """Evaluator handler: mean seconds of the inferer (network forward, e.g. over all slices of a volume) per case.

    Measured from the start of each iteration (batch on the device) to MONAI's ``FORWARD_COMPLETED`` event, so
    data loading, post-processing and metrics are not included; divided by the number of items in the batch (one
    case per batch in the bundles' evaluation). The first ``warmup_iterations`` iterations carry one-time costs
    (thread pools, first allocations) and are left out when the run has more iterations than that. The mean is
    stored as ``engine.state.metrics[name]`` at the end of the run; declare this handler before a
    ``MetricsSaver`` to have it in ``metrics.csv``.

    Args:
        name: metric name, e.g. ``"inference_time_per_case"``.
        image_key: key of the batch whose first dimension counts the cases.
        warmup_iterations: leading iterations not counted (unless there are no others).
    """

    def __init__(
        self, name: str = "inference_time_per_case", image_key: str = "image", warmup_iterations: int = 1
    ) -> None:
        if warmup_iterations < 0:
            raise ValueError(f"warmup_iterations must be >= 0, got {warmup_iterations}.")
        self.name = name
        self.image_key = image_key
        self.warmup_iterations = warmup_iterations
        self._start = 0.0
        self._times: list[tuple[float, int]] = []

    def attach(self, engine: Engine) -> None:
        """Register with an evaluator ``engine`` (a MONAI workflow, which fires ``IterationEvents``)."""
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_STARTED, self._started)
        engine.add_event_handler(IterationEvents.FORWARD_COMPLETED, self._forward_completed)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._completed)

    def _reset(self, engine: Engine) -> None:
        self._times = []

    def _started(self, engine: Engine) -> None:
        self._start = time.perf_counter()

    def _forward_completed(self, engine: Engine) -> None:
        seconds = time.perf_counter() - self._start
        batch = engine.state.batch
        images = batch.get(self.image_key) if isinstance(batch, dict) else None
        self._times.append((seconds, int(images.shape[0]) if hasattr(images, "shape") else 1))

    def _completed(self, engine: Engine) -> None:
        times = self._times[self.warmup_iterations :] if len(self._times) > self.warmup_iterations else self._times
        cases = sum(n for _, n in times)
        if cases:
            engine.state.metrics[self.name] = sum(s for s, _ in times) / cases


class TimeLimitHandler:
    """Trainer handler: a wall-time budget (the bundles' top-level ``time_limit``, seconds; 0: none).

    Checked after every iteration: once the budget is spent, the current epoch ends after that iteration
    (``terminate_epoch``), so the epoch handlers declared before this one (validation, checkpoints) still run for
    it, and then training stops. At least one iteration runs. ``epochs`` still caps the run.

    Args:
        limit_seconds: wall-time budget in seconds from the start of the run; 0 or less: no limit.
    """

    def __init__(self, limit_seconds: float = 0.0) -> None:
        self.limit_seconds = float(limit_seconds)
        self._start = 0.0
        self._spent = False
        self.logger = logging.getLogger(__name__)

    def attach(self, engine: Engine) -> None:
        """Register with a trainer ``engine``; declare it last among the epoch handlers."""
        engine.add_event_handler(Events.STARTED, self._started)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._iteration)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def _started(self, engine: Engine) -> None:
        self._start = time.perf_counter()
        self._spent = False

    def _iteration(self, engine: Engine) -> None:
        if self.limit_seconds <= 0 or self._spent:
            return
        spent = self.limit_seconds <= time.perf_counter() - self._start
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # every rank must stop at the same iteration (else the others wait in the next all-reduce forever)
            on_gpu = torch.distributed.get_backend() == "nccl"
            flag = torch.tensor([float(spent)], device=torch.device("cuda") if on_gpu else None)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            spent = bool(flag.item())
        if spent:
            self._spent = True
            engine.terminate_epoch()

    def __call__(self, engine: Engine) -> None:
        elapsed = time.perf_counter() - self._start
        if 0 < self.limit_seconds <= elapsed and engine.state.epoch < engine.state.max_epochs:
            self.logger.info(
                f"time limit {self.limit_seconds:.0f} s reached in epoch {engine.state.epoch} "
                f"(iteration {engine.state.iteration}, {elapsed:.0f} s): stop"
            )
            engine.terminate()
