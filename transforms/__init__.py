"""Our MONAI transforms and data helpers: MSD datalists and splits, volume checks, 3D→2D slicing,
synthetic data in the real on-disk formats."""

from transforms.checks import CheckVolumed, DatasetError
from transforms.msd_datalist import (
    case_id_from_path,
    check_msd_files,
    check_msd_headers,
    load_msd_datalist,
    read_msd_dataset_json,
    split_by_case,
)
from transforms.slicing import VolumeSliceDataset, take_slice
from transforms.synthetic_msd import generate_msd_task01

__all__ = [
    "CheckVolumed", "DatasetError", "VolumeSliceDataset", "take_slice", "case_id_from_path", "check_msd_files",
    "check_msd_headers", "load_msd_datalist", "read_msd_dataset_json", "split_by_case", "generate_msd_task01",
]
