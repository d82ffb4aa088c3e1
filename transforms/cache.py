"""An in-memory cache of decoded volumes that stops cleanly at the first bad volume."""

from __future__ import annotations

import threading
from multiprocessing.pool import ThreadPool

from monai.data import CacheDataset
from tqdm import tqdm

__all__ = ["VolumeCacheDataset"]


class VolumeCacheDataset(CacheDataset):
    """MONAI's :class:`~monai.data.CacheDataset` whose cache filling stops at the first failing item.

    ``CacheDataset`` fills its cache in a ``ThreadPool``. When one item fails (a bad volume: see
    :class:`~transforms.CheckVolumed`), the error propagates but the pool's threads are not joined, so they go on
    decoding the next volumes while the interpreter exits; a thread caught inside a PyTorch or reader call at
    that moment aborts the process ("terminate called without an active exception", exit status 134) after the
    error was printed. Here the remaining items are skipped once one has failed, and the pool is joined before
    the error propagates, so a bad data set fails with its own error and exit status 1.

    Args and behaviour otherwise those of ``CacheDataset`` (use ``copy_cache=False`` when samples are copied
    downstream, as :class:`~transforms.VolumeSliceDataset` does).
    """

    def _fill_cache(self, indices=None) -> list:
        if self.cache_num <= 0:
            return []
        if indices is None:
            indices = list(range(self.cache_num))
        failed = threading.Event()

        def load(index: int):
            if failed.is_set():
                return None
            try:
                return self._load_cache_item(index)
            except BaseException:
                failed.set()
                raise

        pool = ThreadPool(self.num_workers)
        try:
            items = pool.imap(load, indices)
            if self.progress:
                items = tqdm(items, total=len(indices), desc="Loading dataset")
            return list(items)
        except BaseException:
            failed.set()
            raise
        finally:
            pool.close()
            pool.join()
