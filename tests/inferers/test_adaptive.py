from __future__ import annotations

import logging

import pytest
import torch
from monai.inferers import SliceInferer

from inferers import AdaptiveSliceInferer, is_out_of_memory
from networks import ModularUNet


class _MemoryCap:
    """Wraps a network: a batch of more than ``max_batch`` slices raises the CUDA out-of-memory error (a fake
    memory limit on a machine without a GPU); counts the calls and the errors."""

    def __init__(self, network, max_batch: int, error=torch.OutOfMemoryError, message: str = "CUDA out of memory."):
        self.network, self.max_batch, self.error, self.message = network, max_batch, error, message
        self.batches: list[int] = []
        self.raised = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > self.max_batch:
            self.raised += 1
            raise self.error(f"{self.message} (a batch of {x.shape[0]} slices)")
        self.batches.append(x.shape[0])
        return self.network(x)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return ModularUNet(spatial_dims=2, in_channels=4, out_channels=1, features=4, depth=2).eval()


def test_out_of_memory_falls_back_to_smaller_batches_with_the_same_output(net, caplog):
    volumes = [torch.randn(1, 4, 32, 32, 13), torch.randn(1, 4, 32, 32, 11)]
    reference = SliceInferer(roi_size=(32, 32), spatial_dim=2, sw_batch_size=16)
    capped = _MemoryCap(net, max_batch=5)
    adaptive = AdaptiveSliceInferer(roi_size=(32, 32), spatial_dim=2, sw_batch_size=16)
    with torch.no_grad(), caplog.at_level(logging.WARNING):
        expected = [reference(v, net) for v in volumes]
        got = [adaptive(v, capped) for v in volumes]
    for e, g in zip(expected, got):
        assert g.shape == e.shape == (1, 1, 32, 32, g.shape[-1])
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)
    assert adaptive.sw_batch_size == 4  # 16 -> 8 -> 4
    assert capped.raised == 2, "the smaller batch is kept: the second volume runs without an error"
    assert max(capped.batches) <= 4 and sum(capped.batches) == 13 + 11, "every slice predicted exactly once"
    assert "retrying with 8" in caplog.text and "retrying with 4" in caplog.text


def test_cpu_out_of_memory_is_caught_too(net):
    """The CPU allocator's failure is a RuntimeError with a message, not torch.OutOfMemoryError."""
    cpu_error = "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"
    assert is_out_of_memory(RuntimeError(cpu_error))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))

    message = "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to allocate"
    capped = _MemoryCap(net, max_batch=2, error=RuntimeError, message=message)
    adaptive = AdaptiveSliceInferer(roi_size=(32, 32), spatial_dim=2, sw_batch_size=8)
    with torch.no_grad():
        out = adaptive(torch.randn(1, 4, 32, 32, 5), capped)
    assert out.shape == (1, 1, 32, 32, 5) and adaptive.sw_batch_size == 2


def test_no_fit_at_all_names_the_volume(net):
    capped = _MemoryCap(net, max_batch=0)
    adaptive = AdaptiveSliceInferer(roi_size=(32, 32), spatial_dim=2, sw_batch_size=4)
    with torch.no_grad(), pytest.raises(MemoryError, match=r"shape \(1, 4, 32, 32, 6\) even with 1 slice"):
        adaptive(torch.randn(1, 4, 32, 32, 6), capped)


def test_other_errors_are_not_retried(net):
    adaptive = AdaptiveSliceInferer(roi_size=(32, 32), spatial_dim=2, sw_batch_size=4)
    calls = []

    def broken(x):
        calls.append(x.shape[0])
        raise RuntimeError("weight of size [4, 4, 3, 3] expected input with 4 channels")

    with pytest.raises(RuntimeError, match="expected input"):
        adaptive(torch.randn(1, 4, 32, 32, 6), broken)
    assert calls == [4] and adaptive.sw_batch_size == 4
    with pytest.raises(ValueError, match="min_sw_batch_size"):
        AdaptiveSliceInferer(roi_size=(32, 32), spatial_dim=2, min_sw_batch_size=0)
