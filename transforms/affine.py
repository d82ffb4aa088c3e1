"""MONAI's ``RandAffined`` with the resampling done in one ``affine_grid`` + ``grid_sample`` per key.

MONAI's ``RandAffined`` builds a dense homogeneous grid of every output voxel (``create_grid``), multiplies it by the
affine, converts it and normalises it before ``grid_sample``: for a 128 x 128 x 96 patch that grid work costs more
than the interpolation itself (docs/benchmarks.md, 3D data pipeline). ``FastRandAffined`` draws its parameters with
MONAI's own code (the same random stream, so the same seed gives the same transform), turns MONAI's matrix (centred
voxel coordinates) into ``grid_sample``'s normalised one and lets ``torch.nn.functional.affine_grid`` make the grid.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from monai.config import USE_COMPILED
from monai.data import MetaTensor
from monai.transforms import RandAffined
from monai.transforms.spatial.array import AffineGrid
from monai.utils import fall_back_tuple

__all__ = ["FastRandAffined", "normalized_theta"]

_TORCH_MODES = {"bilinear", "nearest"}
_TORCH_PADDING = {"zeros", "border", "reflection"}


def normalized_theta(affine: torch.Tensor, spatial_size: list[int] | tuple[int, ...]) -> torch.Tensor:
    """``affine_grid``'s ``theta`` for MONAI's affine of the same input and output size.

    MONAI maps output voxel ``i`` to input position ``A @ [c, 1]`` with centred coordinates ``c = i - (n - 1) / 2``
    and samples with ``align_corners=False``, where a normalised coordinate is ``2 c / n``. So in normalised
    coordinates the map is ``D A[:d, :d] D^-1`` plus ``D A[:d, d]`` with ``D = diag(2 / n)``; ``grid_sample`` orders
    the coordinates last spatial axis first, hence the reversal.

    Args:
        affine: ``(d + 1, d + 1)`` homogeneous matrix (MONAI's ``AffineGrid`` matrix), d = 2 or 3.
        spatial_size: the d spatial sizes of the image (channel excluded), in the image's axis order.

    Returns:
        ``(1, d, d + 1)`` float32 tensor.
    """
    d = len(spatial_size)
    a = torch.as_tensor(affine, dtype=torch.float64)[: d + 1, : d + 1]
    n = torch.tensor([float(s) for s in spatial_size], dtype=torch.float64)
    linear = (2.0 / n)[:, None] * a[:d, :d] * (n / 2.0)[None, :]
    shift = (2.0 / n) * a[:d, d]
    rev = list(range(d - 1, -1, -1))
    theta = torch.cat([linear[rev][:, rev], shift[rev][:, None]], dim=1)
    return theta[None].to(torch.float32)


class FastRandAffined(RandAffined):
    """``monai.transforms.RandAffined`` (same arguments, same random draws, same output up to float rounding) with
    one ``affine_grid`` + ``grid_sample`` per key instead of MONAI's dense grid arithmetic.

    The fast path covers what the recipes use: output size equal to the input's (``spatial_size`` unset or equal),
    ``mode`` bilinear / nearest, ``padding_mode`` zeros / border / reflection, no lazy resampling and MONAI's
    default ``align_corners=False``. Anything else (and MONAI's compiled resampler, ``USE_COMPILED``) runs
    ``RandAffined`` itself. Outputs are plain float32 tensors (``RandAffined`` returns MetaTensors that record the
    transform for inversion; the training chain drops that metadata at its end anyway, ``EnsureTyped``).
    """

    @classmethod
    def from_rand_affined(cls, transform: RandAffined) -> FastRandAffined:
        """A ``FastRandAffined`` with the arguments and random state of an existing ``RandAffined`` (a copy; the
        subclass adds no state of its own)."""
        if not isinstance(transform, RandAffined):
            raise TypeError(f"expected a monai.transforms.RandAffined, got {type(transform).__name__}.")
        fast = copy.deepcopy(transform)
        fast.__class__ = cls
        return fast

    def _fast_path(self, d: Mapping[Hashable, Any], spatial_size: tuple[int, ...]) -> bool:
        if USE_COMPILED or self.lazy or len(spatial_size) not in (2, 3):
            return False
        if getattr(self.rand_affine.resampler, "align_corners", False) is not False:
            return False
        if tuple(fall_back_tuple(self.rand_affine.spatial_size, spatial_size)) != tuple(spatial_size):
            return False
        for _, mode, padding in self.key_iterator(dict(d), self.mode, self.padding_mode):
            if str(mode) not in _TORCH_MODES or str(padding) not in _TORCH_PADDING:
                return False
        return True

    def __call__(self, data: Mapping[Hashable, Any], lazy: bool | None = None) -> dict:
        d = dict(data)
        first = self.first_key(d)
        if first == () or lazy:
            return super().__call__(d, lazy=lazy)
        item = d[first]
        spatial_size = tuple(int(s) for s in item.shape[1:])
        if not self._fast_path(d, spatial_size):
            return super().__call__(d, lazy=lazy)
        # MONAI's draws, in MONAI's order: RandAffined's coin, RandAffine's (prob 1) and grid parameters, the grid
        # parameters again (RandAffineGrid is called with randomize=True when the transform applies; these are the
        # ones used), then per resampled key RandAffine's once more (it is called with randomize=True; the grid is
        # given, so those draws only advance the random state)
        self.randomize(None)
        self.rand_affine.randomize()
        theta = None
        if self._do_transform:
            grid = self.rand_affine.rand_affine_grid
            grid.randomize()
            _, affine = AffineGrid(
                rotate_params=grid.rotate_params, shear_params=grid.shear_params,
                translate_params=grid.translate_params, scale_params=grid.scale_params, lazy=True,
            )(spatial_size)  # fmt: skip
            theta = normalized_theta(affine, spatial_size)
        flow = None
        for key, mode, padding in self.key_iterator(d, self.mode, self.padding_mode):
            x = d[key]
            x = (x.as_tensor() if isinstance(x, MetaTensor) else torch.as_tensor(x)).to(torch.float32)
            if theta is not None:
                self.rand_affine.randomize()
                if flow is None:
                    flow = F.affine_grid(theta, [1, x.shape[0], *spatial_size], align_corners=False)
                x = F.grid_sample(x[None], flow, mode=str(mode), padding_mode=str(padding), align_corners=False)[0]
            d[key] = x
        return d

    def inverse(self, data: Mapping[Hashable, Any]) -> dict:
        raise NotImplementedError(
            "FastRandAffined is not invertible (it keeps no transform record); use monai.transforms.RandAffined "
            "where an inverse is needed."
        )
