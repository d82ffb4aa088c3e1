"""Ignite/MONAI engine glue: handlers that the bundles declare in YAML."""

from __future__ import annotations

from .auto_precision import PrecisionChoice, choose_precision, device_capabilities
from .case_table import CaseTableWriter
from .checkpoint import AtomicCheckpointSaver, LatestCheckpointHandler, latest_checkpoint
from .distributed import is_distributed, is_main_process
from .inferers import AdaptiveSliceInferer, is_out_of_memory
from .multiclass_overlay import MultiClassOverlayHandler, multiclass_figure
from .nonfinite import NonFiniteLossError, StopOnNonFiniteLoss
from .outputs import OutputFolderError, check_outputs
from .overlay import SegmentationOverlayHandler, overlay_figure, pick_slice
from .precision import (
    AutocastInferer,
    MixedPrecisionEvaluator,
    MixedPrecisionTrainer,
    resolve_amp_dtype,
    resolve_auto,
    to_channels_last,
)
from .progress import ProgressBarHandler
from .timing import EpochTimeHandler, InferenceTimeHandler, TimeLimitHandler

__all__ = [
    "AdaptiveSliceInferer",
    "AtomicCheckpointSaver",
    "AutocastInferer",
    "CaseTableWriter",
    "EpochTimeHandler",
    "InferenceTimeHandler",
    "LatestCheckpointHandler",
    "MixedPrecisionEvaluator",
    "MixedPrecisionTrainer",
    "MultiClassOverlayHandler",
    "NonFiniteLossError",
    "OutputFolderError",
    "PrecisionChoice",
    "ProgressBarHandler",
    "SegmentationOverlayHandler",
    "StopOnNonFiniteLoss",
    "TimeLimitHandler",
    "check_outputs",
    "choose_precision",
    "device_capabilities",
    "is_distributed",
    "is_main_process",
    "is_out_of_memory",
    "latest_checkpoint",
    "multiclass_figure",
    "overlay_figure",
    "pick_slice",
    "resolve_amp_dtype",
    "resolve_auto",
    "to_channels_last",
]
