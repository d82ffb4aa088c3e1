"""nnU-Net's poly learning-rate decay over a training budget given in epochs, wall time, or both."""

from __future__ import annotations

import time

import torch
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["PolyLRByBudget"]


class PolyLRByBudget(LRScheduler):
    """``lr = base_lr * (1 - progress) ** power``, ``progress`` the larger of ``epoch / epochs`` and
    ``elapsed seconds / time_limit`` (0..1): with a wall-time budget (``--time_limit``) the rate still decays to ~0 by
    the end of training, as nnU-Net's schedule does over its fixed epochs. Stepped once per epoch.

    Args:
        optimizer: the optimiser.
        epochs: epochs of the run (``max_epochs``).
        time_limit: wall-time budget in seconds, counted from the scheduler's creation; 0: epochs only.
        power: the poly exponent (nnU-Net: 0.9).
        last_epoch: as torch's schedulers.
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, epochs: int, time_limit: float = 0.0, power: float = 0.9,
        last_epoch: int = -1,
    ) -> None:  # fmt: skip
        if int(epochs) < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}.")
        self.epochs, self.time_limit, self.power = int(epochs), float(time_limit), float(power)
        self.start = time.perf_counter()
        super().__init__(optimizer, last_epoch)

    def progress(self) -> float:
        """Fraction of the budget used, 0..1."""
        used = self.last_epoch / self.epochs
        if self.time_limit > 0:
            used = max(used, (time.perf_counter() - self.start) / self.time_limit)
        return min(max(used, 0.0), 1.0)

    def get_lr(self) -> list[float]:
        factor = (1.0 - self.progress()) ** self.power
        return [base * factor for base in self.base_lrs]

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["elapsed"] = time.perf_counter() - self.start
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        elapsed = float(state.pop("elapsed", 0.0))
        super().load_state_dict(state)
        self.start = time.perf_counter() - elapsed
