"""Data sets of decoded volumes: an in-memory cache that stops cleanly at the first bad volume, and 3D -> 2D
slicing (every axial slice of every decoded volume is one training sample)."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence
from multiprocessing.pool import ThreadPool
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import CacheDataset, MetaTensor
from monai.transforms import apply_transform
from monai.utils import ensure_tuple
from torch.utils.data import Dataset
from tqdm import tqdm

__all__ = ["VolumeCacheDataset", "VolumeSliceDataset", "take_slice"]


class VolumeCacheDataset(CacheDataset):
    """MONAI's :class:`~monai.data.CacheDataset` whose cache filling stops at the first failing item.

    ``CacheDataset`` fills its cache in a ``ThreadPool``. When one item fails (a bad volume: see
    :class:`~transforms.CheckVolumed`), the error propagates but the pool's threads are not joined, so they go on
    decoding the next volumes while the interpreter exits; a thread caught inside a PyTorch or reader call at
    that moment aborts the process ("terminate called without an active exception", exit status 134) after the
    error was printed. Here the remaining items are skipped once one has failed, and the pool is joined before
    the error propagates, so a bad data set fails with its own error and exit status 1.

    Args and behaviour otherwise those of ``CacheDataset`` (use ``copy_cache=False`` when samples are copied
    downstream, as :class:`~data.datasets.VolumeSliceDataset` does).
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



def take_slice(volume: Any, index: int, axis: int) -> Any:
    """Return slice ``index`` along spatial ``axis`` of a channel-first volume, dropping that axis.

    Args:
        volume: channel-first array/tensor of shape (C, *spatial).
        index: slice index along ``axis``.
        axis: spatial axis, 0-based and counted without the channel dimension (2 = axial for MSD).

    Returns:
        A plain ``torch.Tensor`` (C, *spatial without ``axis``); metadata of the volume is not carried over,
        as a slice's affine is not the volume's.
    """
    if isinstance(volume, MetaTensor):
        volume = volume.as_tensor()
    volume = torch.as_tensor(volume) if isinstance(volume, np.ndarray) else volume
    # a copy, so that no transform can write into the cached volume through a view
    return volume.select(axis + 1, index).clone()


class VolumeSliceDataset(Dataset):
    """Map-style dataset whose samples are the 2D slices of a dataset of 3D volumes.

    The volumes come from ``volumes`` (typically a :class:`monai.data.CacheDataset` holding the decoded,
    deterministically pre-processed volumes), so each volume is decoded once per run however many slices it
    has (build the cache with ``copy_cache=False``: slices are copied here, so the cached volume is never
    deep-copied per sample). Sample ``i`` is slice ``z`` of volume ``v`` for the ``(v, z)`` that ``i`` enumerates in order;
    ``slice_transform`` (random augmentation, usually) is applied to the 2D sample on every access.

    Args:
        volumes: dataset of dictionaries with channel-first volumes (C, X, Y, Z) under ``keys``.
        keys: keys of the volumes to slice (e.g. ``("image", "label")``); all must share spatial shape.
        slice_transform: callable applied to each 2D sample dictionary.
        axis: spatial axis to slice along (0-based, channel excluded); 2 is axial for MSD/BraTS NIfTI.
        copy_keys: other keys copied as they are into every sample (e.g. ``"case_id"``).

    Each sample is ``{key: tensor (C, X, Y) for key in keys, "case_id": ..., "slice_index": z}``.
    """

    def __init__(
        self,
        volumes: Sequence[dict],
        keys: KeysCollection = ("image", "label"),
        slice_transform: Callable | None = None,
        axis: int = 2,
        copy_keys: KeysCollection = ("case_id",),
    ) -> None:
        self.volumes = volumes
        self.keys = ensure_tuple(keys)
        self.slice_transform = slice_transform
        self.axis = axis
        self.copy_keys = ensure_tuple(copy_keys)
        depths = []
        for item in volumes:
            shape = item[self.keys[0]].shape
            depths.append(int(shape[axis + 1]))
        self.depths = depths
        self.offsets = np.concatenate([[0], np.cumsum(depths)]).astype(np.int64).tolist()

    def __len__(self) -> int:
        return self.offsets[-1]

    def locate(self, index: int) -> tuple[int, int]:
        """Return ``(volume_index, slice_index)`` of sample ``index``."""
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"slice index {index} out of range for {len(self)} slices")
        volume_index = bisect.bisect_right(self.offsets, index) - 1
        return volume_index, index - self.offsets[volume_index]

    def __getitem__(self, index: int) -> dict:
        volume_index, z = self.locate(index)
        volume = self.volumes[volume_index]
        sample = {key: take_slice(volume[key], z, self.axis) for key in self.keys}
        for key in self.copy_keys:
            if key in volume:
                sample[key] = volume[key]
        sample["slice_index"] = z
        if self.slice_transform is not None:
            sample = apply_transform(self.slice_transform, sample)
        return sample
