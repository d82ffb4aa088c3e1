"""Ignite/MONAI engine glue: handlers that the bundles declare in YAML."""

from __future__ import annotations

from .autocast import AutocastInferer
from .checkpoint import LatestCheckpointHandler, latest_checkpoint
from .overlay import SegmentationOverlayHandler, overlay_figure, pick_slice
from .progress import ProgressBarHandler

__all__ = [
    "AutocastInferer",
    "LatestCheckpointHandler",
    "ProgressBarHandler",
    "SegmentationOverlayHandler",
    "latest_checkpoint",
    "overlay_figure",
    "pick_slice",
]
