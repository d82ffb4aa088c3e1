"""Mirroring test-time augmentation (nnU-Net's default at inference): the mean of the network's outputs over every
combination of flips along the chosen spatial axes, each flipped back; optionally with quarter turns in one plane
as well (the 8 symmetries of the square there: dihedral TTA, for data whose content has no orientation in that plane,
e.g. cells or nuclei)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from monai.inferers import Inferer, SimpleInferer

__all__ = ["MirrorTTAInferer", "mirror_axes_combinations", "tta_elements"]


def mirror_axes_combinations(axes: Sequence[int]) -> list[tuple[int, ...]]:
    """Every subset of ``axes``, the empty one (no flip) first: ``(0, 1)`` -> ``[(), (0,), (1,), (0, 1)]``."""
    axes = tuple(axes)
    return [c for r in range(len(axes) + 1) for c in itertools.combinations(axes, r)]


def tta_elements(
    axes: Sequence[int], rotation_plane: Sequence[int] | None = None
) -> list[tuple[int, tuple[int, ...]]]:
    """The distinct symmetries TTA runs, each as ``(quarter_turns, flipped_axes)``: the input is turned
    ``quarter_turns`` times in ``rotation_plane`` (``torch.rot90`` direction), then flipped along ``flipped_axes``.

    Without a plane: every subset of ``axes`` with no turn (``mirror_axes_combinations``). With a plane ``(a, b)``:
    0..3 turns times every subset of ``axes`` without ``b`` (a flip of ``b`` is a flip of ``a`` after two turns),
    so the plane contributes its 8 dihedral elements once each: ``(0, 1)`` -> 8 elements, 3 axes -> 16.
    """
    axes = tuple(int(a) for a in axes)
    if rotation_plane is None:
        return [(0, c) for c in mirror_axes_combinations(axes)]
    a, b = (int(p) for p in rotation_plane)
    if a == b:
        raise ValueError(f"rotation_plane needs two different spatial axes, got {(a, b)}.")
    mirrored = tuple(x for x in dict.fromkeys((a, *axes)) if x != b)
    return [(k, c) for k in range(4) for c in mirror_axes_combinations(mirrored)]


class MirrorTTAInferer(Inferer):
    """Run another inferer on the input and on its mirror images, flip each output back and average them.

    With ``n`` mirror axes the network runs ``2**n`` times (2D: 4, 3D: 8). The outputs averaged are the network's
    raw outputs (logits), as nnU-Net v2 does; the bundle's post-processing (softmax/sigmoid, argmax/threshold)
    follows as without TTA. A deeply supervised network's stacked heads are averaged head by head. With
    ``rotation_plane`` the input is also turned by quarter turns in that plane (:func:`tta_elements`: 2D 8 passes,
    3D 16): valid only where that plane has equal spacing on its two axes and no preferred orientation.

    Args:
        inferer: the wrapped inferer (``SimpleInferer``, ``SlidingWindowInferer``, our slice inferers, ...).
        spatial_axes: spatial axes to mirror (0 = first spatial axis, i.e. tensor dim 2); None: every spatial axis
            of the input.
        enabled: False runs the wrapped inferer once (the bundles' ``--tta false``); strings "true"/"false" of the
            command line are understood.
        rotation_plane: two spatial axes to turn in by quarter turns as well (None: mirroring only).

    Shape:
        ``inputs`` (B, C, *spatial) -> the wrapped inferer's output (B, K, *spatial), the mean over the mirrors.
    """

    def __init__(
        self,
        inferer: Inferer | None = None,
        spatial_axes: Sequence[int] | None = None,
        enabled: bool | str = True,
        rotation_plane: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.inferer = inferer if inferer is not None else SimpleInferer()
        self.spatial_axes = None if spatial_axes is None else tuple(int(a) for a in spatial_axes)
        self.enabled = enabled.strip().lower() in ("1", "true", "yes", "on") if isinstance(enabled, str) else bool(enabled)
        self.rotation_plane = None if rotation_plane is None else tuple(int(a) for a in rotation_plane)
        if self.rotation_plane is not None and (len(self.rotation_plane) != 2 or len(set(self.rotation_plane)) != 2):
            raise ValueError(f"MirrorTTAInferer: rotation_plane needs two different spatial axes, got {rotation_plane}.")

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        if not self.enabled:
            return self.inferer(inputs, network, *args, **kwargs)
        nspatial = inputs.dim() - 2
        axes = self.spatial_axes if self.spatial_axes is not None else tuple(range(nspatial))
        plane = self.rotation_plane or ()
        if any(not 0 <= a < nspatial for a in (*axes, *plane)):
            raise ValueError(
                f"MirrorTTAInferer: spatial_axes {axes} / rotation_plane {self.rotation_plane} outside the input's "
                f"{nspatial} spatial axes."
            )
        total = None
        elements = tta_elements(axes, self.rotation_plane)
        ndim = inputs.dim()
        for turns, combo in elements:
            x = torch.rot90(inputs, turns, [plane[0] + 2, plane[1] + 2]) if turns else inputs
            x = torch.flip(x, [a + 2 for a in combo]) if combo else x
            out = self.inferer(x, network, *args, **kwargs)
            # back in reverse order, on the output's spatial axes, its last ones (a deep-supervision stack adds a
            # leading head axis)
            out = torch.flip(out, [a + 2 - ndim for a in combo]) if combo else out
            out = torch.rot90(out, -turns, [plane[0] + 2 - ndim, plane[1] + 2 - ndim]) if turns else out
            total = out.float() if total is None else total + out.float()
        return total / len(elements)
