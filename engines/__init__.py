"""Ignite/MONAI engine glue: handlers that the bundles declare in YAML."""

from __future__ import annotations

from .checkpoint import LatestCheckpointHandler, latest_checkpoint
from .distributed import is_distributed, is_main_process
from .overlay import SegmentationOverlayHandler, overlay_figure, pick_slice
from .precision import (
    AutocastInferer,
    MixedPrecisionEvaluator,
    MixedPrecisionTrainer,
    resolve_amp_dtype,
    to_channels_last,
)
from .progress import ProgressBarHandler

__all__ = [
    "AutocastInferer",
    "LatestCheckpointHandler",
    "MixedPrecisionEvaluator",
    "MixedPrecisionTrainer",
    "ProgressBarHandler",
    "SegmentationOverlayHandler",
    "is_distributed",
    "is_main_process",
    "latest_checkpoint",
    "overlay_figure",
    "pick_slice",
    "resolve_amp_dtype",
    "to_channels_last",
]
