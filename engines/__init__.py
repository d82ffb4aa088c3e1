"""Ignite/MONAI engine glue: handlers that the bundles declare in YAML."""

from __future__ import annotations

from .checkpoint import LatestCheckpointHandler, latest_checkpoint
from .overlay import SegmentationOverlayHandler, overlay_figure, pick_slice
from .progress import ProgressBarHandler
from .timing import EpochTimeHandler, InferenceTimeHandler, TimeLimitHandler

__all__ = [
    "EpochTimeHandler",
    "InferenceTimeHandler",
    "LatestCheckpointHandler",
    "ProgressBarHandler",
    "SegmentationOverlayHandler",
    "TimeLimitHandler",
    "latest_checkpoint",
    "overlay_figure",
    "pick_slice",
]
