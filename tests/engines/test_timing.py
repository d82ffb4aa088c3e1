"""Timing handlers: epoch time without validation, inference time per case, wall-time budget (fake clock)."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine, Events
from monai.engines.utils import IterationEvents

import engines.timing
from engines import EpochTimeHandler, InferenceTimeHandler, TimeLimitHandler


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(engines.timing, "time", fake)
    return fake


def test_epoch_time_is_the_iterations_only():
    engine = Engine(lambda e, b: None)
    EpochTimeHandler("train_epoch_time").attach(engine)
    seen = []
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: seen.append(
        (e.state.metrics["train_epoch_time"], e.state.times["EPOCH_COMPLETED"])))
    engine.run([0, 1, 2], max_epochs=2)
    assert len(seen) == 2
    assert all(value == times for value, times in seen)  # ignite's time of the epoch's iterations


def test_inference_time_per_case_leaves_out_warm_up(clock):
    durations = iter([5.0, 1.0, 3.0])  # seconds of the forward pass of three batches

    def step(engine, batch):
        clock.now += next(durations)
        engine.fire_event(IterationEvents.FORWARD_COMPLETED)
        clock.now += 100.0  # post-processing and metrics: not counted

    def evaluate(warmup):
        nonlocal durations
        durations = iter([5.0, 1.0, 3.0])
        engine = Engine(step)
        engine.register_events(*IterationEvents)
        InferenceTimeHandler("t", warmup_iterations=warmup).attach(engine)
        batches = [{"image": torch.zeros(1, 2)}, {"image": torch.zeros(2, 2)}, {"image": torch.zeros(2, 2)}]
        engine.run(batches, max_epochs=1)
        return engine.state.metrics["t"]

    assert evaluate(1) == pytest.approx((1.0 + 3.0) / 4)  # per case: batches of 2 cases
    assert evaluate(0) == pytest.approx(9.0 / 5)
    assert evaluate(5) == pytest.approx(9.0 / 5)  # nothing left after warm-up: every iteration counts
    with pytest.raises(ValueError, match="warmup_iterations must be >= 0"):
        InferenceTimeHandler(warmup_iterations=-1)


@pytest.mark.parametrize("limit, epochs, iterations", [(50.0, 3, 5), (0.0, 5, 10), (1.0, 1, 1), (1000.0, 5, 10)])
def test_time_limit_ends_the_epoch_within_one_iteration_and_validates_it(clock, limit, epochs, iterations):
    def step(engine, batch):
        clock.now += 10.0

    engine = Engine(step)
    validated = []
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: validated.append(e.state.epoch))  # e.g. validation
    TimeLimitHandler(limit).attach(engine)
    engine.run([0, 1], max_epochs=5)  # 20 s per epoch
    assert engine.state.epoch == epochs
    assert engine.state.iteration == iterations  # 10 s per iteration: stopped at the first one past the limit
    assert validated == list(range(1, epochs + 1))  # every epoch that ran was validated
