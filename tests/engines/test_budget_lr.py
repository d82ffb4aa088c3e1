"""Poly learning-rate decay over an epoch and wall-time budget."""

from __future__ import annotations

import math

import pytest
import torch

import engines.budget_lr as budget_lr
from engines.budget_lr import PolyLRByBudget


def _optimizer():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)


def test_epochs_only_is_nnunet_poly():
    opt = _optimizer()
    sched = PolyLRByBudget(opt, epochs=10)
    for _ in range(5):
        opt.step()
        sched.step()
    assert math.isclose(opt.param_groups[0]["lr"], 0.5**0.9)


def test_time_budget_decays_by_elapsed_time(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(budget_lr.time, "perf_counter", lambda: now[0])
    opt = _optimizer()
    sched = PolyLRByBudget(opt, epochs=1000, time_limit=60.0)
    now[0] += 45.0  # three quarters of the budget in the first epoch
    opt.step()
    sched.step()
    assert math.isclose(opt.param_groups[0]["lr"], 0.25**0.9)
    state = sched.state_dict()
    now[0] += 100.0  # past the budget: 0
    sched.step()
    assert opt.param_groups[0]["lr"] == 0.0
    resumed = PolyLRByBudget(_optimizer(), epochs=1000, time_limit=60.0)
    resumed.load_state_dict(state)
    assert math.isclose(resumed.progress(), 0.75), "the elapsed time travels with the checkpoint"


def test_bad_epochs():
    with pytest.raises(ValueError, match="epochs"):
        PolyLRByBudget(_optimizer(), epochs=0)
