"""Ignite/MONAI engine glue: handlers that the bundles declare in YAML.

Importing this package (every bundle does) installs :func:`engines.errors.install_excepthook`: a run that fails on
one of our errors ends with that error's message, not with MONAI's resolver traceback.
"""

from __future__ import annotations

from .auto_precision import PrecisionChoice, choose_precision, device_capabilities
from .case_table import CaseTableWriter
from .checkpoint import (
    AtomicCheckpointSaver,
    CheckpointWriteError,
    LatestCheckpointHandler,
    ResumeError,
    latest_checkpoint,
)
from .distributed import is_distributed, is_main_process
from .errors import UserFacingError, install_excepthook, register_user_error
from .metric_names import rename_metrics, split_prefix
from .nonfinite import NonFiniteLossError, StopOnNonFiniteLoss
from .outputs import OutputFolderError, check_outputs
from .overlay import MultiClassOverlayHandler, SegmentationOverlayHandler, overlay_figure, pick_slice
from .preflight import PreflightError, check_before_run, check_checkpoint_space, check_tile_fits
from .precision import (
    MixedPrecisionEvaluator,
    MixedPrecisionTrainer,
    resolve_amp_dtype,
    resolve_auto,
    to_channels_last,
)
from .progress import ProgressBarHandler
from .recipes import RecipeError, follow_recipe
from .timing import EpochTimeHandler, InferenceTimeHandler, TimeLimitHandler
from .weight_average import WeightAverage, WeightAverageError

__all__ = [
    "AtomicCheckpointSaver",
    "CaseTableWriter",
    "CheckpointWriteError",
    "EpochTimeHandler",
    "InferenceTimeHandler",
    "LatestCheckpointHandler",
    "MixedPrecisionEvaluator",
    "MixedPrecisionTrainer",
    "MultiClassOverlayHandler",
    "NonFiniteLossError",
    "OutputFolderError",
    "PrecisionChoice",
    "PreflightError",
    "RecipeError",
    "ResumeError",
    "ProgressBarHandler",
    "SegmentationOverlayHandler",
    "StopOnNonFiniteLoss",
    "TimeLimitHandler",
    "UserFacingError",
    "WeightAverage",
    "WeightAverageError",
    "check_before_run",
    "check_checkpoint_space",
    "check_outputs",
    "choose_precision",
    "device_capabilities",
    "follow_recipe",
    "check_tile_fits",
    "is_distributed",
    "is_main_process",
    "install_excepthook",
    "latest_checkpoint",
    "overlay_figure",
    "pick_slice",
    "rename_metrics",
    "register_user_error",
    "resolve_amp_dtype",
    "resolve_auto",
    "split_prefix",
    "to_channels_last",
]

install_excepthook()
