"""Mirroring test-time augmentation (nnU-Net's default at inference): the mean of the network's outputs over every
combination of flips along the chosen spatial axes, each flipped back."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from monai.inferers import Inferer, SimpleInferer

__all__ = ["MirrorTTAInferer", "mirror_axes_combinations"]


def mirror_axes_combinations(axes: Sequence[int]) -> list[tuple[int, ...]]:
    """Every subset of ``axes``, the empty one (no flip) first: ``(0, 1)`` -> ``[(), (0,), (1,), (0, 1)]``."""
    axes = tuple(axes)
    return [c for r in range(len(axes) + 1) for c in itertools.combinations(axes, r)]


class MirrorTTAInferer(Inferer):
    """Run another inferer on the input and on its mirror images, flip each output back and average them.

    With ``n`` mirror axes the network runs ``2**n`` times (2D: 4, 3D: 8). The outputs averaged are the network's
    raw outputs (logits), as nnU-Net v2 does; the bundle's post-processing (softmax/sigmoid, argmax/threshold)
    follows as without TTA. A deeply supervised network's stacked heads are averaged head by head.

    Args:
        inferer: the wrapped inferer (``SimpleInferer``, ``SlidingWindowInferer``, our slice inferers, ...).
        spatial_axes: spatial axes to mirror (0 = first spatial axis, i.e. tensor dim 2); None: every spatial axis
            of the input.
        enabled: False runs the wrapped inferer once (the bundles' ``--tta false``); strings "true"/"false" of the
            command line are understood.

    Shape:
        ``inputs`` (B, C, *spatial) -> the wrapped inferer's output (B, K, *spatial), the mean over the mirrors.
    """

    def __init__(
        self, inferer: Inferer | None = None, spatial_axes: Sequence[int] | None = None, enabled: bool | str = True
    ) -> None:
        super().__init__()
        self.inferer = inferer if inferer is not None else SimpleInferer()
        self.spatial_axes = None if spatial_axes is None else tuple(int(a) for a in spatial_axes)
        self.enabled = enabled.strip().lower() in ("1", "true", "yes", "on") if isinstance(enabled, str) else bool(enabled)

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        if not self.enabled:
            return self.inferer(inputs, network, *args, **kwargs)
        nspatial = inputs.dim() - 2
        axes = self.spatial_axes if self.spatial_axes is not None else tuple(range(nspatial))
        if any(not 0 <= a < nspatial for a in axes):
            raise ValueError(f"MirrorTTAInferer: spatial_axes {axes} outside the input's {nspatial} spatial axes.")
        total = None
        combos = mirror_axes_combinations(axes)
        for combo in combos:
            dims = [a + 2 for a in combo]
            x = torch.flip(inputs, dims) if dims else inputs
            out = self.inferer(x, network, *args, **kwargs)
            # the output's spatial axes are its last ones (a deep-supervision stack adds a leading head axis)
            out_dims = [d - inputs.dim() for d in dims]
            out = torch.flip(out, out_dims) if out_dims else out
            total = out.float() if total is None else total + out.float()
        return total / len(combos)
