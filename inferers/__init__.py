"""Inferers: how a network is run over a whole image or volume (MONAI ``Inferer`` subclasses) -- slice by slice with
an out-of-memory fall-back, overlap-tile with mirrored context, under autocast on any device, with mirroring
test-time augmentation, and as an ensemble of several networks."""

from inferers.adaptive import AdaptiveSliceInferer, is_out_of_memory
from inferers.autocast import AutocastInferer
from inferers.ensemble import EnsembleInferer
from inferers.mirror_tta import MirrorTTAInferer, mirror_axes_combinations
from inferers.overlap_tile import OverlapTileInferer, mirror_indices, mirror_pad

__all__ = [
    "AdaptiveSliceInferer",
    "AutocastInferer",
    "EnsembleInferer",
    "MirrorTTAInferer",
    "OverlapTileInferer",
    "is_out_of_memory",
    "mirror_axes_combinations",
    "mirror_indices",
    "mirror_pad",
]
