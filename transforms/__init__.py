"""Our MONAI transforms and data helpers: loading that names bad files, volume checks, 3D→2D slicing,
augmentation (dihedral, elastic, batch-level flips and shear), whitening, overlap-tile inference. Format-specific
readers live with their format in ``formats/<name>/readers.py``."""

from transforms.batch_augment import BatchTransformCollate, RandFlipShearBatchd, flip_shear_matrices
from transforms.cache import VolumeCacheDataset
from transforms.checks import CheckVolumed, ReportsLastFailure
from transforms.dihedral import Dihedrald, RandDihedrald
from transforms.elastic import RandGridElasticd
from transforms.io import LoadVolumed
from transforms.overlap_tile import OverlapTileInferer, mirror_pad
from transforms.slice_store import SliceStore, StoreSliceDataset, StoreVolumeDataset, write_slice_store
from transforms.slicing import VolumeSliceDataset, take_slice
from transforms.whitening import ZCAWhitening, ZCAWhiteningd, fit_zca_whitening

__all__ = [
    "BatchTransformCollate", "CheckVolumed", "Dihedrald", "LoadVolumed", "OverlapTileInferer", "RandDihedrald",
    "RandFlipShearBatchd", "RandGridElasticd", "ReportsLastFailure", "SliceStore", "StoreSliceDataset",
    "StoreVolumeDataset", "VolumeCacheDataset", "VolumeSliceDataset", "ZCAWhitening", "ZCAWhiteningd",
    "fit_zca_whitening", "flip_shear_matrices", "mirror_pad", "take_slice", "write_slice_store",
]
