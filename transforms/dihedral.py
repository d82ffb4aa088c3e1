"""The 8 symmetries of the square (quarter rotations, each with or without a flip) as MONAI transforms.

Seed 002 augments every ISBI page by "rotating it at quarter angles and then flipping it": the dihedral group
D4. Element ``index`` in 0..7 is ``index % 4`` counter-clockwise quarter turns in the plane of
``spatial_axes`` (``torch.rot90``), followed, for ``index >= 4``, by a flip of the first of those axes.
:class:`RandDihedrald` draws one element uniformly per call (the same for all keys); :class:`Dihedrald`
applies a given one (e.g. test-time augmentation over all 8). Both are invertible: the affine of a
``MetaTensor`` is updated by MONAI's ``Rotate90``/``Flip``, and ``inverse`` undoes the element recorded in
``applied_operations``.

MONAI equivalent without our class: ``RandRotate90d(prob=0.75, max_k=3)`` then ``RandFlipd(prob=0.5,
spatial_axis=0)`` also gives each of the 8 elements with probability 1/8; this class does it in one step, can
restrict the elements and has a deterministic twin.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import Flip, InvertibleTransform, MapTransform, RandomizableTransform, Rotate90
from monai.utils import TraceKeys, convert_to_tensor

__all__ = ["DIHEDRAL_INVERSE", "Dihedrald", "RandDihedrald", "dihedral"]

# DIHEDRAL_INVERSE[i] undoes element i: rotations by -k; a rotation followed by a flip is its own inverse
DIHEDRAL_INVERSE = (0, 3, 2, 1, 4, 5, 6, 7)


def _check_index(index: int) -> int:
    if not 0 <= int(index) < 8:
        raise ValueError(f"a dihedral element index is in 0..7, got {index}.")
    return int(index)


def dihedral(img: Any, index: int, spatial_axes: tuple[int, int] = (0, 1)) -> Any:
    """Apply dihedral element ``index`` to a channel-first array (C, *spatial) (tensor or numpy).

    ``index % 4`` quarter turns (``torch.rot90`` / ``np.rot90`` direction) in the plane of ``spatial_axes``
    (0-based, channel excluded), then a flip of ``spatial_axes[0]`` when ``index >= 4``. Plain array op: no
    metadata update (use :class:`Dihedrald` for ``MetaTensor`` s).
    """
    index = _check_index(index)
    dims = (spatial_axes[0] + 1, spatial_axes[1] + 1)
    if isinstance(img, np.ndarray):
        out = np.rot90(img, index % 4, axes=dims)
        return np.ascontiguousarray(np.flip(out, dims[0]) if index >= 4 else out)
    out = torch.rot90(img, index % 4, dims)
    return torch.flip(out, (dims[0],)) if index >= 4 else out


class Dihedrald(MapTransform, InvertibleTransform):
    """Apply one dihedral element (see the module docstring) to every key; invertible.

    Args:
        keys: keys of channel-first arrays (C, H, W) or (C, H, W, D).
        index: element 0..7 (0 is the identity).
        spatial_axes: the plane of the rotation; the flip reverses ``spatial_axes[0]``.
        allow_missing_keys: skip absent keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        index: int = 0,
        spatial_axes: tuple[int, int] = (0, 1),
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.index = _check_index(index)
        if len(spatial_axes) != 2 or spatial_axes[0] == spatial_axes[1]:
            raise ValueError(f"spatial_axes must be two different axes, got {spatial_axes}.")
        self.spatial_axes = (int(spatial_axes[0]), int(spatial_axes[1]))

    def _apply(self, img: Any, index: int) -> torch.Tensor:
        """Element ``index`` through MONAI's ``Rotate90``/``Flip`` (affine updated), without tracing them."""
        rotate = Rotate90(k=index % 4, spatial_axes=self.spatial_axes)
        rotate.tracing = False
        out = rotate(img)
        if index >= 4:
            flip = Flip(spatial_axis=self.spatial_axes[0])
            flip.tracing = False
            out = flip(out)
        return out

    def _forward(self, d: dict, index: int, do_transform: bool = True) -> dict:
        for key in self.key_iterator(d):
            if do_transform:
                d[key] = self._apply(d[key], index)
            else:
                d[key] = convert_to_tensor(d[key], track_meta=True)
            self.push_transform(d[key], extra_info={"index": index})
        return d

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        return self._forward(dict(data), self.index)

    def inverse(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            if not isinstance(d[key], MetaTensor):
                continue
            xform = self.pop_transform(d[key])
            if xform.get(TraceKeys.DO_TRANSFORM, True):
                d[key] = self._apply(d[key], DIHEDRAL_INVERSE[xform[TraceKeys.EXTRA_INFO]["index"]])
        return d


class RandDihedrald(RandomizableTransform, Dihedrald):
    """With probability ``prob``, apply a dihedral element drawn uniformly from ``indices`` to every key.

    Seed 002's "8 rotated versions by rotating at quarter angles and then flipping": ``prob=1.0`` and all 8
    elements (the identity is one of them, so 1/8 of the samples are unchanged). The same element is applied
    to all keys of a call. Invertible through the element recorded in each ``MetaTensor``.

    Args:
        keys: keys of channel-first arrays (C, H, W) or (C, H, W, D).
        prob: probability of drawing an element at all (else the data pass unchanged).
        indices: elements to draw from (default all 8; ``(0, 1, 2, 3)`` for rotations only).
        spatial_axes: the plane of the rotation; the flip reverses ``spatial_axes[0]``.
        allow_missing_keys: skip absent keys.
    """

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 1.0,
        indices: Sequence[int] = tuple(range(8)),
        spatial_axes: tuple[int, int] = (0, 1),
        allow_missing_keys: bool = False,
    ) -> None:
        RandomizableTransform.__init__(self, prob)
        Dihedrald.__init__(self, keys, 0, spatial_axes, allow_missing_keys)
        self.indices = tuple(_check_index(i) for i in indices)
        if not self.indices:
            raise ValueError("indices must name at least one dihedral element.")
        self._index = 0

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        self._index = self.indices[self.R.randint(len(self.indices))]

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        self.randomize()
        return self._forward(dict(data), self._index, self._do_transform)
