"""Ignite/MONAI engine glue: handlers that the bundles declare in YAML."""

from __future__ import annotations

from .checkpoint import AtomicCheckpointSaver, LatestCheckpointHandler, latest_checkpoint
from .inferers import AdaptiveSliceInferer, is_out_of_memory
from .nonfinite import NonFiniteLossError, StopOnNonFiniteLoss
from .outputs import OutputFolderError, check_outputs
from .overlay import SegmentationOverlayHandler, overlay_figure, pick_slice
from .progress import ProgressBarHandler

__all__ = [
    "AdaptiveSliceInferer",
    "AtomicCheckpointSaver",
    "LatestCheckpointHandler",
    "NonFiniteLossError",
    "OutputFolderError",
    "ProgressBarHandler",
    "SegmentationOverlayHandler",
    "StopOnNonFiniteLoss",
    "check_outputs",
    "is_out_of_memory",
    "latest_checkpoint",
    "overlay_figure",
    "pick_slice",
]
