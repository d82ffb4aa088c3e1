from __future__ import annotations

import threading
import time

import pytest
from monai.transforms import Compose, Lambda

from data.datasets import VolumeCacheDataset


def _counting(fail_at: int | None, calls: list):
    def load(item):
        calls.append(item["i"])
        time.sleep(0.01)
        if item["i"] == fail_at:
            raise ValueError(f"bad item {fail_at}")
        return {**item, "loaded": True}

    return Compose([Lambda(load)])


@pytest.mark.parametrize("num_workers", [0, 2])
def test_caches_every_item(num_workers):
    calls = []
    ds = VolumeCacheDataset([{"i": i} for i in range(6)], transform=_counting(None, calls), num_workers=num_workers)
    assert [ds[i]["i"] for i in range(6)] == list(range(6)) and all(ds[i]["loaded"] for i in range(6))
    assert sorted(calls) == list(range(6))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_stops_at_first_failure_and_joins_its_threads(num_workers):
    before = threading.active_count()
    calls = []
    with pytest.raises(RuntimeError) as err:
        VolumeCacheDataset([{"i": i} for i in range(40)], transform=_counting(1, calls), num_workers=num_workers)
    assert "bad item 1" in str(err.value.__cause__)
    assert len(calls) < 10, f"items after the failure were still loaded: {calls}"
    assert threading.active_count() == before, "cache-filling threads left running"
