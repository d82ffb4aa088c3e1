"""Inferers: how a network is run over a whole image or volume (MONAI ``Inferer`` subclasses) -- slice by slice with
an out-of-memory fall-back, overlap-tile with mirrored context, and under autocast on any device."""

from inferers.adaptive import AdaptiveSliceInferer, is_out_of_memory
from inferers.autocast import AutocastInferer
from inferers.overlap_tile import OverlapTileInferer, mirror_indices, mirror_pad

__all__ = [
    "AdaptiveSliceInferer",
    "AutocastInferer",
    "OverlapTileInferer",
    "is_out_of_memory",
    "mirror_indices",
    "mirror_pad",
]
