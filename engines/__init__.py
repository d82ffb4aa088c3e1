"""Ignite/MONAI engine glue: handlers that the bundles declare in YAML."""

from __future__ import annotations

from .case_table import CaseTableWriter
from .checkpoint import AtomicCheckpointSaver, LatestCheckpointHandler, latest_checkpoint
from .distributed import is_distributed, is_main_process
from .multiclass_overlay import MultiClassOverlayHandler, multiclass_figure
from .nonfinite import NonFiniteLossError, StopOnNonFiniteLoss
from .outputs import OutputFolderError, check_outputs
from .overlay import SegmentationOverlayHandler, overlay_figure, pick_slice
from .precision import (
    MixedPrecisionEvaluator,
    MixedPrecisionTrainer,
    resolve_amp_dtype,
    to_channels_last,
)
from .progress import ProgressBarHandler
from .timing import EpochTimeHandler, InferenceTimeHandler, TimeLimitHandler

__all__ = [
    "AtomicCheckpointSaver",
    "CaseTableWriter",
    "EpochTimeHandler",
    "InferenceTimeHandler",
    "LatestCheckpointHandler",
    "MixedPrecisionEvaluator",
    "MixedPrecisionTrainer",
    "MultiClassOverlayHandler",
    "NonFiniteLossError",
    "OutputFolderError",
    "ProgressBarHandler",
    "SegmentationOverlayHandler",
    "StopOnNonFiniteLoss",
    "TimeLimitHandler",
    "check_outputs",
    "is_distributed",
    "is_main_process",
    "latest_checkpoint",
    "multiclass_figure",
    "overlay_figure",
    "pick_slice",
    "resolve_amp_dtype",
    "to_channels_last",
]
