"""Elastic deformation of seed 002 / the 2015 U-Net: Gaussian displacements on a coarse grid, cubic interpolation.

The U-Net paper (Ronneberger et al. 2015, section 3.1) draws "random displacement vectors on a coarse 3 by 3
grid" from "a Gaussian distribution with 10 pixels standard deviation" and computes per-pixel displacements
"using bicubic interpolation"; seed 002 repeats it ("cubic interpolation ... Gaussian distribution with a mean
of 0 and a standard deviation of 10 pixels").

Why not MONAI's ``Rand2DElasticd``: its distribution is the same (``RandDeformGrid`` adds ``N(0, 1) * m`` pixel
offsets to a control grid, whatever its docstring says about "uniform"; bicubic upsampling; a ``mode`` per key),
but it upsamples the grid of *coordinates* with PyTorch's bicubic kernel, which does not reproduce a linear ramp.
With a coarse grid this adds a fixed, non-random warp whose size grows with the spacing: with zero
displacement (``magnitude_range=(0, 0)``) a 512 px image with ``spacing=256`` (about 3 points across) comes
back moved by up to 12 px, as much as the random part; with ``spacing=32`` on 64 px, 1.5 px. Its control grid is
also centred on the image with extra points outside, not a 3 x 3 grid on the corners and centre.

:class:`RandGridElasticd` interpolates the *displacements* instead: a ``grid_points x grid_points`` grid of
Gaussian vectors pinned to the corners of the image, upsampled bicubically to every pixel
(``align_corners=True``) and added to the identity grid; each key is resampled by MONAI's ``Resample`` with
its own mode (``"bicubic"`` for images, ``"nearest"`` for labels, which keep their values) and padding
(``"reflection"``: the mirror extrapolation of the paper). Zero displacement is the identity, exactly.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.transforms import MapTransform, RandomizableTransform, Resample
from monai.transforms.utils import create_grid
from monai.utils import convert_to_tensor, ensure_tuple_rep

__all__ = ["RandGridElasticd", "elastic_displacement"]


def elastic_displacement(offsets: torch.Tensor, spatial_size: Sequence[int]) -> torch.Tensor:
    """Per-pixel displacement (2, H, W) from control-point offsets (2, g, g), by bicubic interpolation.

    The control points sit on a regular grid whose outer points are the image corners (``align_corners=True``).
    """
    if offsets.ndim != 3 or offsets.shape[0] != 2:
        raise ValueError(f"offsets must have shape (2, g, g), got {tuple(offsets.shape)}.")
    size = [int(s) for s in spatial_size]
    return F.interpolate(offsets[None].float(), size=size, mode="bicubic", align_corners=True)[0]


class RandGridElasticd(RandomizableTransform, MapTransform):
    """Random elastic deformation of 2D images: Gaussian displacements on a coarse grid, bicubic interpolation.

    One displacement field per call, shared by all keys. Draws, with probability ``prob``: a standard deviation
    ``s`` from ``sigma`` (a number, or a ``(low, high)`` range), then ``grid_points x grid_points`` displacement
    vectors from ``N(0, s^2)`` pixels per component; see the module docstring for the interpolation.

    Args:
        keys: keys of channel-first 2D arrays (C, H, W) of one spatial size.
        grid_points: control points along each side, the outer ones on the image border (the paper: 3).
        sigma: standard deviation of the displacements in pixels (the paper: 10), or a ``(low, high)`` range.
        prob: probability of deforming (seed 002 deforms every augmented sample: 1.0).
        mode: interpolation, one for all keys or one per key: ``"bicubic"`` for images, ``"nearest"`` for
            labels, also ``"bilinear"``. Default (None): ``"bicubic"`` for the first key and ``"nearest"`` for
            the others, i.e. ``("bicubic", "nearest")`` for ``keys=["image", "label"]``.
        padding_mode: outside the image: ``"reflection"`` (mirror), ``"border"`` or ``"zeros"``; one or per key.
        allow_missing_keys: skip absent keys.

    Bicubic interpolation can overshoot the input range by a few percent at sharp edges; clip afterwards
    (``ScaleIntensityRanged(..., clip=True)``) when the range matters. Not invertible (as MONAI's elastic
    transforms); meant for training-time augmentation.
    """

    def __init__(
        self,
        keys: KeysCollection,
        grid_points: int = 3,
        sigma: float | Sequence[float] = 10.0,
        prob: float = 1.0,
        mode: Sequence[str] | str | None = None,
        padding_mode: Sequence[str] | str = "reflection",
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        if grid_points < 2:
            raise ValueError(f"grid_points must be >= 2, got {grid_points}.")
        low, high = (float(sigma), float(sigma)) if isinstance(sigma, (int, float)) else (float(s) for s in sigma)
        if low < 0 or high < low:
            raise ValueError(f"sigma must be >= 0 or a (low, high) range with 0 <= low <= high, got {sigma}.")
        self.grid_points = int(grid_points)
        self.sigma = (low, high)
        if mode is None:
            mode = ("bicubic",) + ("nearest",) * (len(self.keys) - 1)
        self.mode = ensure_tuple_rep(mode, len(self.keys))
        self.padding_mode = ensure_tuple_rep(padding_mode, len(self.keys))
        self.resampler = Resample(norm_coords=True)
        self.offsets = torch.zeros(2, self.grid_points, self.grid_points)

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        if not self._do_transform:
            return
        scale = self.R.uniform(*self.sigma) if self.sigma[1] > self.sigma[0] else self.sigma[0]
        offsets = self.R.normal(size=(2, self.grid_points, self.grid_points)) * scale
        self.offsets = torch.as_tensor(offsets, dtype=torch.float32)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        first = self.first_key(d)
        if first == () or not self._do_transform:
            for key in self.key_iterator(d):
                d[key] = convert_to_tensor(d[key], track_meta=True)
            return d
        size = tuple(int(s) for s in d[first].shape[1:])
        if len(size) != 2:
            raise ValueError(f"RandGridElasticd deforms 2D images (C, H, W), got shape {tuple(d[first].shape)}.")
        device = d[first].device if isinstance(d[first], torch.Tensor) else None
        grid = torch.as_tensor(create_grid(size, backend="torch"), dtype=torch.float32, device=device)
        grid[:2] += elastic_displacement(self.offsets, size).to(grid.device)
        for key, mode, padding_mode in self.key_iterator(d, self.mode, self.padding_mode):
            if tuple(d[key].shape[1:]) != size:
                raise ValueError(f"key {key!r} has spatial shape {tuple(d[key].shape[1:])}, key {first!r} {size}.")
            d[key] = self.resampler(d[key], grid, mode=mode, padding_mode=padding_mode)
        return d
