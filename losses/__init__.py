"""Losses MONAI lacks, in MONAI's style (keyword-constructible, so bundle YAML can declare them): focal Tversky,
Unified Focal, class-weighted BCE and categorical CE with the class-frequency weights computed from the training
set, and a deep-supervision wrapper. MONAI's own losses (DiceLoss, DiceCELoss, ...) are used directly; the named
definitions a bundle switches between are in bundles/common/configs/losses.yaml (see docs/losses_and_metrics.md)."""

from losses.class_weights import class_frequency_weights, count_classes
from losses.cross_entropy import CrossEntropyLoss, WeightedBCELoss
from losses.deep_supervision import DeepSupervisionLoss, nnunet_weights
from losses.focal_tversky import FocalTverskyLoss
from losses.unified_focal import UnifiedFocalLoss
from losses.utils import reduce_loss, safe_pow

__all__ = [
    "CrossEntropyLoss", "DeepSupervisionLoss", "FocalTverskyLoss", "UnifiedFocalLoss", "WeightedBCELoss",
    "class_frequency_weights", "count_classes", "nnunet_weights", "reduce_loss", "safe_pow",
]
