"""Ignite/MONAI engine glue: handlers that the bundles declare in YAML."""

from __future__ import annotations

from .case_table import CaseTableWriter
from .checkpoint import LatestCheckpointHandler, latest_checkpoint
from .multiclass_overlay import MultiClassOverlayHandler, multiclass_figure
from .overlay import SegmentationOverlayHandler, overlay_figure, pick_slice
from .progress import ProgressBarHandler

__all__ = [
    "CaseTableWriter",
    "MultiClassOverlayHandler",
    "multiclass_figure",
    "LatestCheckpointHandler",
    "ProgressBarHandler",
    "SegmentationOverlayHandler",
    "latest_checkpoint",
    "overlay_figure",
    "pick_slice",
]
