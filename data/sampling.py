"""Training patches of the generic path (nnU-Net's sampler on MONAI): random 3D patches of whole cases, or 2D patches
of slices along the plan's slice axis, with foreground oversampling, and mirroring along every axis."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.data.utils import set_rnd
from monai.transforms import MapTransform, Randomizable, apply_transform
from monai.utils import MAX_SEED
from torch.utils.data import Dataset

__all__ = ["PatchDataset", "RandElasticd", "RandMirrord", "crop_or_pad"]

_MAX_INDICES = 20000  # foreground voxels kept per class and case for oversampling (a uniform subsample)


def _tensor(x: Any) -> torch.Tensor:
    if isinstance(x, MetaTensor):
        return x.as_tensor()
    return torch.as_tensor(x)


def crop_or_pad(x: torch.Tensor, starts: Sequence[int], size: Sequence[int]) -> torch.Tensor:
    """The box ``[start, start + size)`` of every spatial axis of a channel-first ``x``, zero-padded where it leaves
    the volume.

    Args:
        x: ``(C, *spatial)`` tensor.
        starts: first index of the box per spatial axis (may be negative, or run past the end: zero padding).
        size: box size per spatial axis.

    Returns:
        ``(C, *size)`` tensor (a copy).
    """
    slices, pads = [slice(None)], []
    for start, length, extent in zip(starts, size, x.shape[1:]):
        lo, hi = max(int(start), 0), min(int(start) + int(length), int(extent))
        slices.append(slice(lo, max(hi, lo)))
        pads.append((lo - int(start), int(start) + int(length) - max(hi, lo)))
    out = x[tuple(slices)]
    flat = [p for pair in reversed(pads) for p in pair]  # F.pad takes the last axis first
    return F.pad(out, flat) if any(flat) else out.clone()


class PatchDataset(Randomizable, Dataset):
    """``samples_per_epoch`` random training patches drawn from pre-processed cases (nnU-Net's sampling).

    Every sample picks a case uniformly; with probability ``foreground_fraction`` the patch is centred on a labelled
    voxel (a class present in the case is chosen uniformly, then one of its voxels), otherwise it is placed
    uniformly at random. Volumes smaller than the patch are zero-padded (image and label). With a 2D patch on 3D
    cases the sample is a slice along ``slice_axis`` (the foreground voxel's slice, or a random one), then a 2D
    patch of it.

    Args:
        volumes: sequence of pre-processed cases (typically a cache): dictionaries with channel-first ``image``
            ``(C, *spatial)`` and ``label`` ``(1, *spatial)`` (label values; 0 background).
        patch_size: the patch: as many entries as the volumes' spatial axes (3D patches, or 2D patches of 2D
            images), or one fewer (2D patches of the slices along ``slice_axis``).
        samples_per_epoch: length of the dataset (iterations per epoch x batch size).
        slice_axis: spatial axis (0-based, channel excluded) the slices are taken along, for 2D patches of 3D cases.
        foreground_fraction: probability that a patch is centred on a labelled voxel (nnU-Net: 1/3).
        transform: applied to every patch dictionary (augmentation, label conversion).
        keys: the image key and the label key.
        seed: seed of the sampler's random state. A DataLoader re-seeds the sampler per worker
            (``set_random_state``), and with it ``transform``: otherwise every worker would inherit the same
            augmentation state and draw the same augmentation parameters as the others.

    Each sample is ``{"image": (C, *patch_size), "label": (1, *patch_size), "case_id": ...}`` before ``transform``.
    """

    def __init__(
        self,
        volumes: Sequence[Mapping],
        patch_size: Sequence[int],
        samples_per_epoch: int,
        slice_axis: int | None = None,
        foreground_fraction: float = 1.0 / 3.0,
        transform: Callable | None = None,
        keys: Sequence[str] = ("image", "label"),
        seed: int = 0,
    ) -> None:
        if len(volumes) == 0:
            raise ValueError("PatchDataset needs at least one training case.")
        if samples_per_epoch < 1:
            raise ValueError(f"samples_per_epoch must be >= 1, got {samples_per_epoch}.")
        if not 0.0 <= float(foreground_fraction) <= 1.0:
            raise ValueError(f"foreground_fraction must be in [0, 1], got {foreground_fraction}.")
        self.volumes = volumes
        self.patch_size = [int(p) for p in patch_size]
        self.samples_per_epoch = int(samples_per_epoch)
        self.slice_axis = slice_axis
        self.foreground_fraction = float(foreground_fraction)
        self.transform = transform
        self.image_key, self.label_key = keys
        self._foreground: dict[int, dict[int, np.ndarray]] = {}
        Randomizable.set_random_state(self, seed=seed)  # the sampler only: the transforms keep their own seeds

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> PatchDataset:
        """Seed the sampler and, with a seed derived from it, every random transform of ``transform``.

        MONAI's DataLoader calls this in every worker with a different seed (``set_rnd`` stops at the first object
        that has ``set_random_state``, so it would not reach the transforms of this data set); without the transforms
        the workers' augmentation draws would repeat each other's.
        """
        super().set_random_state(seed=seed, state=state)
        if self.transform is not None:
            derived = np.random.RandomState(seed).randint(MAX_SEED) if seed is not None else self.R.randint(MAX_SEED)
            set_rnd(self.transform, int(derived))
        return self

    def __len__(self) -> int:
        return self.samples_per_epoch

    def foreground_indices(self, case: int) -> dict[int, np.ndarray]:
        """Label value -> flat indices of (at most 20000 of) its voxels in case ``case`` (computed once)."""
        if case not in self._foreground:
            label = _tensor(self.volumes[case][self.label_key])[0].numpy().ravel()
            subsample = np.random.RandomState(case)
            indices = {}
            for value in np.unique(label):
                if value == 0:
                    continue
                where = np.flatnonzero(label == value)
                if len(where) > _MAX_INDICES:
                    where = np.sort(subsample.choice(where, _MAX_INDICES, replace=False))
                indices[int(value)] = where
            self._foreground[case] = indices
        return self._foreground[case]

    def _starts(self, extent: Sequence[int], centre: Sequence[int] | None) -> list[int]:
        """First index of the patch per axis: centred on ``centre`` (kept inside the volume when it fits), or random."""
        starts = []
        for i, (n, p) in enumerate(zip(extent, self.patch_size)):
            lo, hi = min(0, n - p), max(0, n - p)
            if centre is None:
                starts.append(int(self.R.randint(lo, hi + 1)))
            else:
                starts.append(int(np.clip(centre[i] - p // 2, lo, hi)))
        return starts

    def __getitem__(self, index: int) -> dict:
        case = int(self.R.randint(len(self.volumes)))
        volume = self.volumes[case]
        image, label = _tensor(volume[self.image_key]), _tensor(volume[self.label_key])
        shape = list(image.shape[1:])
        voxel = None
        if self.R.uniform() < self.foreground_fraction:
            classes = self.foreground_indices(case)
            if classes:
                values = sorted(classes)
                where = classes[values[int(self.R.randint(len(values)))]]
                voxel = [int(c) for c in np.unravel_index(int(where[self.R.randint(len(where))]), shape)]
        if len(self.patch_size) == len(shape) - 1:  # a 2D patch of a slice of a 3D case
            axis = self.slice_axis if self.slice_axis is not None else len(shape) - 1
            z = voxel[axis] if voxel is not None else int(self.R.randint(shape[axis]))
            image, label = image.select(axis + 1, z), label.select(axis + 1, z)
            shape = shape[:axis] + shape[axis + 1 :]
            voxel = None if voxel is None else voxel[:axis] + voxel[axis + 1 :]
        elif len(self.patch_size) != len(shape):
            raise ValueError(
                f"patch_size {self.patch_size} does not fit a case of spatial shape {shape}: give one entry per "
                "spatial axis (3D patches) or one fewer (2D patches of slices)."
            )
        starts = self._starts(shape, voxel)
        sample = {
            self.image_key: crop_or_pad(image, starts, self.patch_size).float(),
            self.label_key: crop_or_pad(label, starts, self.patch_size),
        }
        if "case_id" in volume:
            sample["case_id"] = volume["case_id"]
        if self.transform is not None:
            sample = apply_transform(self.transform, sample)
        return sample


class RandMirrord(Randomizable, MapTransform):
    """Mirror ``keys`` along every spatial axis independently, each with probability ``prob`` (nnU-Net's mirroring;
    the same flips for all keys of a sample). Works for 2D and 3D channel-first tensors.

    Args:
        keys: keys of the channel-first tensors to mirror (image and label).
        prob: probability of a flip along each axis.
        allow_missing_keys: don't fail on a missing key.
    """

    def __init__(self, keys: KeysCollection, prob: float = 0.5, allow_missing_keys: bool = False) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.prob = float(prob)

    def randomize(self, data: Any = None) -> None:  # noqa: D102 (Randomizable)
        pass

    def __call__(self, data: Mapping[Hashable, Any]) -> dict:
        d = dict(data)
        first = d[next(k for k in self.key_iterator(d))]
        axes = [i + 1 for i in range(first.ndim - 1) if self.R.uniform() < self.prob]
        if axes:
            for key in self.key_iterator(d):
                d[key] = torch.flip(_tensor(d[key]), dims=axes)
        return d


class RandElasticd(Randomizable, MapTransform):
    """Elastic deformation of 2D or 3D samples (MONAI ``Rand2DElasticd`` / ``Rand3DElasticd`` chosen by the sample's
    dimensionality), image bilinear, label nearest; off unless ``prob > 0`` (slow on a CPU, as nnU-Net notes).

    Args:
        keys: image key and label key.
        prob: probability of a deformation.
        sigma_range: smoothness of the displacement field in voxels (the 2D transform's control-point spacing is
            ``2 * sigma``).
        magnitude_range: displacement magnitude.
        allow_missing_keys: don't fail on a missing key.
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 0.0,
        sigma_range: Sequence[float] = (9.0, 13.0),
        magnitude_range: Sequence[float] = (0.0, 200.0),
        allow_missing_keys: bool = False,
    ) -> None:
        from monai.transforms import Rand2DElasticd, Rand3DElasticd

        MapTransform.__init__(self, keys, allow_missing_keys)
        self.prob = float(prob)
        modes = ["bilinear", "nearest"][: len(self.keys)]
        self.t2 = Rand2DElasticd(
            keys, spacing=2 * float(sigma_range[0]), magnitude_range=magnitude_range, prob=1.0, mode=modes,
            padding_mode="zeros", allow_missing_keys=allow_missing_keys,
        )  # fmt: skip
        self.t3 = Rand3DElasticd(
            keys, sigma_range=sigma_range, magnitude_range=magnitude_range, prob=1.0, mode=modes,
            padding_mode="zeros", allow_missing_keys=allow_missing_keys,
        )  # fmt: skip

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandElasticd:
        super().set_random_state(seed, state)
        self.t2.set_random_state(seed, state)
        self.t3.set_random_state(seed, state)
        return self

    def randomize(self, data: Any = None) -> None:  # noqa: D102 (Randomizable)
        pass

    def __call__(self, data: Mapping[Hashable, Any]) -> dict:
        if self.prob <= 0 or self.R.uniform() >= self.prob:
            return dict(data)
        first = data[next(k for k in self.key_iterator(dict(data)))]
        return dict((self.t2 if first.ndim == 3 else self.t3)(data))
