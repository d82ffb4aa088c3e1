"""Inferers: how a network is run over a whole image or volume (MONAI ``Inferer`` subclasses) -- slice by slice with
an out-of-memory fall-back, overlap-tile with mirrored context, under autocast on any device, with mirroring
test-time augmentation, as an ensemble of several networks, and on the foreground bounding box only."""

from inferers.adaptive import AdaptiveSliceInferer, is_out_of_memory
from inferers.autocast import AutocastInferer
from inferers.ensemble import EnsembleInferer
from inferers.fold_ensemble import checkpoint_file, fold_ensemble, load_members, member_run_dir
from inferers.foreground_crop import BACKGROUND_LOGIT, ForegroundCropInferer, foreground_box
from inferers.mirror_tta import MirrorTTAInferer, mirror_axes_combinations, tta_elements
from inferers.overlap_tile import OverlapTileInferer, mirror_indices, mirror_pad

__all__ = [
    "AdaptiveSliceInferer",
    "AutocastInferer",
    "BACKGROUND_LOGIT",
    "EnsembleInferer",
    "ForegroundCropInferer",
    "MirrorTTAInferer",
    "OverlapTileInferer",
    "checkpoint_file",
    "fold_ensemble",
    "foreground_box",
    "is_out_of_memory",
    "load_members",
    "member_run_dir",
    "mirror_axes_combinations",
    "mirror_indices",
    "mirror_pad",
    "tta_elements",
]
