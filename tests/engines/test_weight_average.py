"""engines.WeightAverage: the average follows Ignite's EMA recursion with the linear momentum warm-up exactly (weights and
float buffers), leaves the online network alone, is off at momentum 0 (the network itself, no handler, an empty
checkpoint entry), survives a save and resume exactly as an uninterrupted run, and names the key of a bad value."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine, Events

from engines import WeightAverage, WeightAverageError


class Tiny(torch.nn.Module):
    """One weight and one float buffer, set from outside to a known value per iteration."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
        self.register_buffer("stat", torch.zeros(2, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))


def value(iteration: int) -> float:
    return float(iteration) ** 1.5  # not linear, so a wrong momentum shows


def trainer_for(network: Tiny, offset: int = 0) -> Engine:
    """An engine whose iteration k sets the online weight to value(offset + k) (as an optimiser step would change
    it); ``offset``: the iterations of an earlier run that this one resumes."""

    def step(engine: Engine, _batch) -> None:
        k = offset + engine.state.iteration
        with torch.no_grad():
            network.weight.fill_(value(k))
            network.stat.fill_(-value(k))
            network.count.fill_(k)

    return Engine(step)


def expected_average(iterations: int, momentum: float, warmup: float, warmup_iters: int) -> float:
    """Ignite's recursion: momentum linear from ``warmup`` (iteration 1) to ``momentum`` (iteration warmup_iters)."""
    average = 0.0  # the copy is taken before training: the initial weight, 0
    for k in range(1, iterations + 1):
        m = max(momentum, warmup + (momentum - warmup) * (k - 1) / max(1, warmup_iters - 1))
        average = (1 - m) * average + m * value(k)
    return average


def test_the_average_follows_the_warm_up_recursion_and_the_online_weights_are_untouched():
    network = Tiny()
    average = WeightAverage(network, momentum=0.1, momentum_warmup=0.6, warmup_iters=4)
    trainer = trainer_for(network)
    average.attach(trainer)
    trainer.run([0] * 7, max_epochs=1)
    want = expected_average(7, 0.1, 0.6, 4)
    assert average.enabled and average.model is not network
    assert torch.allclose(average.model.weight, torch.full((3,), want, dtype=torch.float64), rtol=1e-12)
    assert torch.allclose(average.model.stat, torch.full((2,), -want, dtype=torch.float64), rtol=1e-12)
    assert int(average.model.count) == 7  # an integer buffer is copied
    assert torch.equal(network.weight, torch.full((3,), value(7), dtype=torch.float64))  # online: the last step
    assert not average.model.training  # the copy is for validation and inference


def test_momentum_zero_is_the_network_itself_with_no_handler_and_an_empty_checkpoint_entry():
    network = Tiny()
    average = WeightAverage(network, momentum=0)
    trainer = trainer_for(network)
    before = len(trainer._event_handlers[Events.ITERATION_COMPLETED])
    average.attach(trainer)
    assert len(trainer._event_handlers[Events.ITERATION_COMPLETED]) == before
    assert not average.enabled and average.model is network
    assert average.state_dict() == {}
    average.load_state_dict({})  # an empty entry loads as nothing


def test_save_and_resume_continue_exactly_as_one_run():
    settings = {"momentum": 0.05, "momentum_warmup": 0.5, "warmup_iters": 6}
    # one run of 9 iterations
    network = Tiny()
    whole = WeightAverage(network, **settings)
    trainer = trainer_for(network)
    whole.attach(trainer)
    trainer.run([0] * 9, max_epochs=1)
    # 4 iterations, saved; a new process loads the checkpoint and runs iterations 5..9
    first = Tiny()
    part = WeightAverage(first, **settings)
    trainer = trainer_for(first)
    part.attach(trainer)
    trainer.run([0] * 4, max_epochs=1)
    saved = {"model": part.model.state_dict(), "weight_average": part.state_dict()}
    assert saved["weight_average"]["step"] == 4
    assert torch.equal(saved["weight_average"]["online"]["weight"], first.weight)
    second = Tiny()
    resumed = WeightAverage(second, **settings)
    trainer = trainer_for(second, offset=4)
    resumed.attach(trainer)
    resumed.model.load_state_dict(saved["model"])
    resumed.load_state_dict(saved["weight_average"])
    assert torch.equal(second.weight, first.weight)
    trainer.run([0] * 5, max_epochs=1)  # iterations 5..9
    assert torch.allclose(resumed.model.weight, whole.model.weight, rtol=1e-12)
    assert torch.allclose(resumed.model.stat, whole.model.stat, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"momentum": -0.1}, "in [0, 1)"),
        ({"momentum": 1.0}, "in [0, 1)"),
        ({"momentum": "abc"}, "must be a number"),
        ({"momentum": float("nan")}, "finite"),
        ({"momentum": True}, "finite number"),
        ({"momentum": 0.2, "momentum_warmup": 0.1}, "at least the momentum"),
        ({"momentum": 0.2, "momentum_warmup": 1.5}, "at least the momentum"),
        ({"momentum": 0.2, "warmup_iters": 0}, "at least 1 iteration"),
    ],
)
def test_a_bad_value_is_one_error_naming_the_key(kwargs, words):
    with pytest.raises(WeightAverageError, match="ema_momentum") as err:
        WeightAverage(Tiny(), **kwargs)
    assert words in str(err.value)


def test_a_command_line_string_is_a_number():
    average = WeightAverage(Tiny(), momentum="0.02")
    assert average.enabled and average.handler.momentum == pytest.approx(0.02)
