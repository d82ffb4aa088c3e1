"""data.dataloaders: shuffling and distributed sharding decided in Python, not declared in YAML."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
from monai.data import DistributedSampler, DistributedWeightedRandomSampler
from torch.utils.data import RandomSampler, SequentialSampler

from data.dataloaders import eval_loader, is_distributed, train_loader

DATA = [{"x": torch.tensor([float(i)])} for i in range(10)]


def test_single_process_loaders_shuffle_for_training_and_keep_order_for_evaluation():
    assert not is_distributed()
    assert isinstance(train_loader(DATA, batch_size=4).sampler, RandomSampler)
    loader = eval_loader(DATA, num_workers=0)
    assert isinstance(loader.sampler, SequentialSampler)
    assert [int(b["x"].item()) for b in loader] == list(range(10))
    sampled = train_loader(DATA, batch_size=5, samples_per_epoch=25)
    assert len(sampled.sampler) == 25 and sum(len(b["x"]) for b in sampled) == 25


def test_sampling_keys_are_refused():
    with pytest.raises(TypeError, match="shuffle: decided by the loader factory"):
        train_loader(DATA, batch_size=2, shuffle=False)
    with pytest.raises(TypeError, match="sampler: decided by the loader factory"):
        eval_loader(DATA, sampler=None)


@pytest.fixture
def process_group():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_distributed_loaders_take_a_distributed_sampler(process_group):
    assert is_distributed()
    train = train_loader(DATA, batch_size=4, seed=3)
    assert isinstance(train.sampler, DistributedSampler) and train.sampler.shuffle and train.sampler.seed == 3
    evaluation = eval_loader(DATA)
    assert isinstance(evaluation.sampler, DistributedSampler) and not evaluation.sampler.shuffle
    assert [int(b["x"].item()) for b in evaluation] == list(range(10))
    sampled = train_loader(DATA, batch_size=5, samples_per_epoch=25)
    assert isinstance(sampled.sampler, DistributedWeightedRandomSampler) and len(sampled.sampler) == 25
