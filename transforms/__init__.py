"""Our MONAI transforms and data helpers: datalists and by-case splits of every seed's data set (MSD Task01,
BraTS2020, ISBI 2012, Figshare, PNG pairs), volume checks, 3D→2D slicing, augmentation (dihedral, elastic),
overlap-tile inference, and synthetic data in each real on-disk format."""

from transforms.batch_augment import BatchTransformCollate, RandFlipShearBatchd, flip_shear_matrices
from transforms.brats import BRATS_DEFAULT_MODALITIES, BRATS_LABELS, BRATS_SPLIT, KeepSlicesd, load_brats_datalist, split_brats
from transforms.cache import VolumeCacheDataset
from data.errors import DatasetError
from transforms.checks import CheckVolumed, ReportsLastFailure
from transforms.dihedral import Dihedrald, RandDihedrald
from transforms.elastic import RandGridElasticd
from transforms.figshare import MatV73Reader, load_figshare_datalist, read_figshare_mat, split_figshare
from transforms.io import LoadVolumed
from transforms.isbi import LoadTiffPaged, load_isbi_datalist, split_isbi
from transforms.msd_datalist import (
    case_id_from_path,
    check_msd_files,
    check_msd_headers,
    load_msd_datalist,
    read_msd_dataset_json,
    split_by_case,
)
from transforms.overlap_tile import OverlapTileInferer, mirror_pad
from transforms.png_pairs import ToGrayscaled, load_png_pairs_datalist, split_png_pairs
from transforms.slicing import VolumeSliceDataset, take_slice
from transforms.slice_store import SliceStore, StoreSliceDataset, StoreVolumeDataset, write_slice_store
from transforms.splits import split_by_group
from transforms.synthetic_brats import generate_brats2020
from transforms.synthetic_figshare import generate_figshare
from transforms.synthetic_isbi import generate_isbi2012
from transforms.synthetic_msd import generate_msd_task01
from transforms.synthetic_png_pairs import generate_png_pairs
from transforms.whitening import ZCAWhitening, ZCAWhiteningd, fit_zca_whitening

__all__ = [
    "CheckVolumed", "DatasetError", "LoadVolumed", "ReportsLastFailure", "VolumeCacheDataset", "VolumeSliceDataset",
    "take_slice", "case_id_from_path", "check_msd_files", "check_msd_headers", "load_msd_datalist",
    "read_msd_dataset_json", "split_by_case", "generate_msd_task01",
    "BRATS_DEFAULT_MODALITIES", "BRATS_LABELS", "BRATS_SPLIT", "KeepSlicesd", "load_brats_datalist", "split_brats",
    "Dihedrald", "RandDihedrald", "RandGridElasticd", "MatV73Reader", "load_figshare_datalist",
    "read_figshare_mat", "split_figshare", "LoadTiffPaged", "load_isbi_datalist", "split_isbi", "OverlapTileInferer",
    "mirror_pad", "ToGrayscaled", "load_png_pairs_datalist", "split_png_pairs", "split_by_group", "generate_brats2020",
    "generate_figshare", "generate_isbi2012", "generate_png_pairs",
    "ZCAWhitening", "ZCAWhiteningd", "fit_zca_whitening",
    "BatchTransformCollate", "RandFlipShearBatchd", "flip_shear_matrices", "SliceStore", "StoreSliceDataset",
    "StoreVolumeDataset", "write_slice_store",
]
