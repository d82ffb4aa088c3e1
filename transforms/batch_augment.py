"""Batch-level (vectorised) augmentation: flips and shear of whole batches of 2D slices with one ``grid_sample``.

The per-slice chain of ``msd_task01_2d.yaml`` (``RandFlipd`` on axis 0, ``RandFlipd`` on axis 1, ``RandAffined``
with a shear of 0..shear_degrees) runs three MONAI transforms per slice in Python, ~2.5 ms each. Here the same
random draws are made for all samples of a batch at once, the flips and the shear are composed into one 2 x 2
matrix per sample, and each key is resampled in one ``torch.nn.functional.grid_sample`` call over the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.data import list_data_collate
from monai.transforms import MapTransform, Randomizable
from monai.utils import ensure_tuple_rep

__all__ = ["BatchTransformCollate", "RandFlipShearBatchd", "flip_shear_matrices"]


def flip_shear_matrices(flip0: torch.Tensor, flip1: torch.Tensor, shear: torch.Tensor) -> torch.Tensor:
    """Per-sample 2 x 2 matrices ``M = F A`` mapping output to input coordinates (centred, in voxel units, MONAI
    axis order: spatial axis 0 first), for a flip ``F`` followed by MONAI's 2D shear ``A = [[1, s], [0, 1]]``.

    ``out(p) = in(M p)``: the flipped image is ``g(p) = in(F p)`` and the sheared one ``out(p) = g(A p)``, as MONAI's
    ``Affine`` samples its input at ``A p`` (``create_shear(2, (s, 0))``).

    Args:
        flip0, flip1: (B,) booleans, flip along spatial axis 0 / 1.
        shear: (B,) shear factors ``s`` (tan of the shear angle).

    Returns:
        (B, 2, 2) float tensor.
    """
    b = shear.shape[0]
    m = torch.zeros(b, 2, 2, dtype=shear.dtype, device=shear.device)
    f0 = 1.0 - 2.0 * flip0.to(shear.dtype)
    f1 = 1.0 - 2.0 * flip1.to(shear.dtype)
    m[:, 0, 0] = f0
    m[:, 0, 1] = f0 * shear
    m[:, 1, 1] = f1
    return m


class RandFlipShearBatchd(Randomizable, MapTransform):
    """Random flips along both in-plane axes and a random shear, applied to batches of 2D samples at once.

    Same semantics as the per-slice chain ``RandFlipd(prob, spatial_axis=0)``, ``RandFlipd(prob, spatial_axis=1)``,
    ``RandAffined(prob=1, shear_range=[(0, tan(shear_degrees)), (0, 0)], mode, padding_mode="zeros")``: each
    sample is flipped along each axis with probability ``flip_prob`` (independently), then sheared by
    ``s ~ U(0, tan(shear_degrees))`` about the slice centre; every key of a sample gets the same geometry, images
    bilinearly and labels by nearest neighbour (labels stay in their value set). Works on any device.

    Args:
        keys: keys of batched tensors (B, C, H, W).
        mode: ``grid_sample`` mode per key (``"bilinear"`` / ``"nearest"``), one or one per key.
        flip_prob: probability of each flip.
        shear_degrees: largest shear angle in degrees (0: flips only; resampling is then skipped).
        padding_mode: ``grid_sample`` padding mode for samples the shear moves in from outside.
        allow_missing_keys: skip keys that are absent.

    Raises:
        ValueError: for a key whose value is not a 4D (B, C, H, W) tensor, or batches of differing sizes.
    """

    def __init__(
        self,
        keys: KeysCollection,
        mode: str | Sequence[str] = "bilinear",
        flip_prob: float = 0.5,
        shear_degrees: float = 2.0,
        padding_mode: str = "zeros",
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.mode = ensure_tuple_rep(mode, len(self.keys))
        if not 0.0 <= flip_prob <= 1.0:
            raise ValueError(f"flip_prob must be in [0, 1], got {flip_prob}")
        if not 0.0 <= float(shear_degrees) < 90.0:
            raise ValueError(f"shear_degrees must be in [0, 90), got {shear_degrees}")
        self.flip_prob = float(flip_prob)
        self.max_shear = math.tan(math.radians(float(shear_degrees)))
        self.padding_mode = padding_mode
        self._flips = np.zeros((0, 2), bool)
        self._shear = np.zeros(0)

    def randomize(self, batch_size: int) -> None:  # type: ignore[override]
        self._flips = self.R.random_sample((batch_size, 2)) < self.flip_prob
        self._shear = self.R.uniform(0.0, self.max_shear, size=batch_size)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict:
        d = dict(data)
        present = [(k, m) for k, m in zip(self.keys, self.mode) if k in d or not self.allow_missing_keys]
        sizes = set()
        for key, _ in present:
            x = d[key]
            if not isinstance(x, torch.Tensor) or x.ndim != 4:
                raise ValueError(f"RandFlipShearBatchd: {key!r} must be a (B, C, H, W) tensor, got {getattr(x, 'shape', type(x))}")
            sizes.add(int(x.shape[0]))
        if len(sizes) > 1:
            raise ValueError(f"RandFlipShearBatchd: batch sizes differ between keys {[k for k, _ in present]}: {sizes}")
        if not present:
            return d
        self.randomize(sizes.pop())
        if self.max_shear == 0.0:  # flips only: exact, no resampling
            for key, _ in present:
                d[key] = self._flip(d[key])
            return d
        for key, mode in present:
            d[key] = self._resample(d[key], mode)
        return d

    def _flip(self, x: torch.Tensor) -> torch.Tensor:
        out = (x.as_tensor() if hasattr(x, "as_tensor") else x).clone()
        for axis in (0, 1):
            idx = torch.as_tensor(np.flatnonzero(self._flips[:, axis]), device=x.device)
            if idx.numel():
                out[idx] = torch.flip(out[idx], dims=(axis + 2,))
        return out

    def _resample(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        x = x.as_tensor() if hasattr(x, "as_tensor") else x  # MetaTensor -> plain: a batch has no single affine
        dtype = x.dtype if x.is_floating_point() else torch.float32
        b, _, h, w = x.shape
        m = flip_shear_matrices(
            torch.as_tensor(self._flips[:, 0]), torch.as_tensor(self._flips[:, 1]), torch.as_tensor(self._shear)
        )
        # voxel units (axis 0 = H, axis 1 = W) -> grid_sample's normalised (x = W, y = H), align_corners=True:
        # u = p / half where half = (n - 1) / 2
        half = torch.tensor([max(h - 1, 1) / 2.0, max(w - 1, 1) / 2.0], dtype=m.dtype)
        m = m * half[None, None, :] / half[None, :, None]  # diag(1/half) M diag(half)
        theta = torch.zeros(b, 2, 3, dtype=m.dtype)
        theta[:, 0, 0], theta[:, 0, 1] = m[:, 1, 1], m[:, 1, 0]  # x (W) row
        theta[:, 1, 0], theta[:, 1, 1] = m[:, 0, 1], m[:, 0, 0]  # y (H) row
        theta = theta.to(device=x.device, dtype=dtype)
        grid = F.affine_grid(theta, [b, 1, h, w], align_corners=True)
        out = F.grid_sample(x.to(dtype), grid, mode=mode, padding_mode=self.padding_mode, align_corners=True)
        return out.to(x.dtype)


class BatchTransformCollate:
    """A ``collate_fn`` that collates samples (MONAI's ``list_data_collate``) and applies ``transform`` to the batch.

    In ``DataLoader`` workers, a :class:`~monai.transforms.Randomizable` transform is re-seeded once per worker
    from the worker's seed, so that workers do not repeat each other's draws.

    Args:
        transform: callable on the collated batch dictionary (e.g. :class:`RandFlipShearBatchd`).
        collate_fn: how samples are collated first.
    """

    def __init__(self, transform: Callable, collate_fn: Callable = list_data_collate) -> None:
        self.transform = transform
        self.collate_fn = collate_fn
        self._seeded_worker: int | None = None

    def __call__(self, batch: Sequence[Any]) -> Any:
        info = torch.utils.data.get_worker_info()
        if info is not None and self._seeded_worker != info.id and isinstance(self.transform, Randomizable):
            self.transform.set_random_state(seed=int(info.seed % (2**32)))
            self._seeded_worker = info.id
        return self.transform(self.collate_fn(batch))
