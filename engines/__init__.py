"""Ignite/MONAI engine glue: handlers that the bundles declare in YAML."""

from __future__ import annotations

from .checkpoint import AtomicCheckpointSaver, LatestCheckpointHandler, latest_checkpoint
from .nonfinite import NonFiniteLossError, StopOnNonFiniteLoss
from .overlay import SegmentationOverlayHandler, overlay_figure, pick_slice
from .progress import ProgressBarHandler

__all__ = [
    "AtomicCheckpointSaver",
    "LatestCheckpointHandler",
    "NonFiniteLossError",
    "ProgressBarHandler",
    "SegmentationOverlayHandler",
    "StopOnNonFiniteLoss",
    "latest_checkpoint",
    "overlay_figure",
    "pick_slice",
]
