"""Which process am I: the tests the bundle configs use to shard data and to keep logging on rank 0."""

from __future__ import annotations

import torch.distributed as dist

__all__ = ["is_distributed", "is_main_process"]


def is_distributed() -> bool:
    """True when a default process group is initialised (``torchrun`` + ``configs/multi_gpu_train.yaml``).

    The shared data fragments give their loaders a ``DistributedSampler`` only then (``_disabled_`` otherwise).
    """
    return dist.is_available() and dist.is_initialized()


def is_main_process() -> bool:
    """True in a single-process run and on rank 0 of a distributed one: the process that logs, draws pictures,
    writes TensorBoard and shows the progress bar (the configs disable those handlers elsewhere)."""
    return not is_distributed() or dist.get_rank() == 0
