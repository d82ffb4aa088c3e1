"""Our MONAI transforms: loading that names bad files, volume checks, augmentation (dihedral, elastic, batch-level
flips and shear, MONAI's random affine with faster resampling), ZCA whitening. Format-specific readers live with
their format (``formats/<name>/readers.py``), data sets, caches, the slice store and splits in ``data/``, inferers
in ``inferers/``."""

from transforms.affine import FastRandAffined
from transforms.batch_augment import BatchTransformCollate, RandFlipShearBatchd, flip_shear_matrices
from transforms.checks import CheckVolumed, ReportsLastFailure
from transforms.dihedral import Dihedrald, RandDihedrald
from transforms.elastic import RandGridElasticd
from transforms.io import LoadVolumed
from transforms.whitening import ZCAWhitening, ZCAWhiteningd, fit_zca_whitening

__all__ = [
    "BatchTransformCollate", "CheckVolumed", "Dihedrald", "FastRandAffined", "LoadVolumed", "RandDihedrald",
    "RandFlipShearBatchd", "RandGridElasticd", "ReportsLastFailure", "ZCAWhitening", "ZCAWhiteningd", "fit_zca_whitening", "flip_shear_matrices",
]
