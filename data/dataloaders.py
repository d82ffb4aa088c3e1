"""Loader factories of every bundle: the plumbing around a data set (shuffling, and a ``DistributedSampler`` when the
run is distributed), so that the YAML declares only the data set and its batch size.

A run is distributed when a default process group is initialised (``torchrun`` with ``configs/multi_gpu_train.yaml``,
which sets it up in ``initialize``). Then

- :func:`train_loader` gives every rank its own shard of each epoch, padded to equal length so that all ranks run
  the same number of iterations (MONAI's ``DistributedSampler(even_divisible=True)``, shuffled with ``seed``; the
  MONAI workflow calls ``set_epoch`` at every epoch);
- :func:`eval_loader` gives every rank a disjoint shard holding every case exactly once
  (``even_divisible=False``); MONAI's metrics gather all ranks' values before averaging.

Otherwise the training loader shuffles and the evaluation loader keeps the data set's order.
"""

from __future__ import annotations

from typing import Any

import torch.distributed as dist
from monai.data import DataLoader, DistributedSampler, DistributedWeightedRandomSampler
from torch.utils.data import Dataset, RandomSampler

__all__ = ["eval_loader", "is_distributed", "train_loader"]


def is_distributed() -> bool:
    """True when a default process group is initialised (the loaders then shard the data over the ranks)."""
    return dist.is_available() and dist.is_initialized()


def train_loader(
    dataset: Dataset,
    batch_size: int,
    num_workers: int = 0,
    seed: int = 0,
    samples_per_epoch: int | None = None,
    **kwargs: Any,
) -> DataLoader:
    """The training loader: shuffled; sharded over the ranks (padded to equal length) when distributed.

    Args:
        dataset: the training samples (slices, patches, images).
        batch_size: samples per batch (per process when distributed).
        num_workers: loader worker processes.
        seed: seed of the distributed sampler's shuffling (the same on every rank).
        samples_per_epoch: ``None``: an epoch is one pass over ``dataset``. A number: an epoch draws that many
            samples (a few pages augmented anew on every access): random permutations of ``dataset`` one after the
            other, so every sample comes equally often; distributed, each rank draws its share (rounded up) with
            replacement, every sample equally likely.
        kwargs: other ``monai.data.DataLoader`` arguments (e.g. ``collate_fn``); not ``shuffle`` or ``sampler``.

    Returns:
        A ``monai.data.DataLoader``.

    Raises:
        TypeError: ``shuffle`` or ``sampler`` given (this factory decides them).
    """
    _refuse_sampling_keys(kwargs)
    if samples_per_epoch:
        if is_distributed():
            sampler = DistributedWeightedRandomSampler(
                dataset, weights=[1.0] * len(dataset), num_samples_per_rank=-(-samples_per_epoch // dist.get_world_size())
            )
        else:
            sampler = RandomSampler(dataset, num_samples=samples_per_epoch)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers, **kwargs)
    if is_distributed():
        sampler = DistributedSampler(dataset, shuffle=True, even_divisible=True, seed=seed)
        return DataLoader(dataset, batch_size=batch_size, shuffle=False, sampler=sampler, num_workers=num_workers,
                          **kwargs)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers, **kwargs)


def eval_loader(dataset: Dataset, batch_size: int = 1, num_workers: int = 0, **kwargs: Any) -> DataLoader:
    """The validation / evaluation / inference loader: in order; disjoint shards (every case once) when distributed.

    Args:
        dataset: the cases (whole volumes or images).
        batch_size: cases per batch (1: whole volumes of different shapes).
        num_workers: loader worker processes.
        kwargs: other ``monai.data.DataLoader`` arguments; not ``shuffle`` or ``sampler``.

    Returns:
        A ``monai.data.DataLoader``.

    Raises:
        TypeError: ``shuffle`` or ``sampler`` given (this factory decides them).
    """
    _refuse_sampling_keys(kwargs)
    sampler = DistributedSampler(dataset, shuffle=False, even_divisible=False) if is_distributed() else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, sampler=sampler, num_workers=num_workers,
                      **kwargs)


def _refuse_sampling_keys(kwargs: dict) -> None:
    given = sorted({"shuffle", "sampler"} & set(kwargs))
    if given:
        raise TypeError(
            f"{', '.join(given)}: decided by the loader factory (shuffled for training, in order for evaluation, "
            "a DistributedSampler under torchrun); remove the key"
        )
