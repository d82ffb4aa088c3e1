"""Data-set integrity checks for every format we read (MSD Task01, BraTS2020, ISBI 2012 TIFF, Figshare .mat, PNG
pairs), after nnU-Net's ``verify_dataset_integrity``: every problem of a data set is reported at once, each with
its file, and a summary line counts errors and warnings. Command line: ``scripts/check_dataset.py``; bundles:
``python -m monai.bundle run check`` with ``bundles/common/configs/check.yaml`` (see docs/data_checks.md)."""

from transforms.integrity.brats import check_brats2020
from transforms.integrity.check import DATASET_CHECKS, DatasetIntegrityCheck, check_dataset, exit_with_report
from transforms.integrity.figshare import check_figshare
from transforms.integrity.isbi import check_isbi2012
from transforms.integrity.msd import check_msd_task01
from transforms.integrity.png_pairs import check_png_pairs
from data.problems import ERROR, WARNING, Finding, IntegrityReport

__all__ = [
    "DATASET_CHECKS", "ERROR", "WARNING", "DatasetIntegrityCheck", "Finding", "IntegrityReport", "check_brats2020",
    "check_dataset", "check_figshare", "check_isbi2012", "check_msd_task01", "check_png_pairs", "exit_with_report",
]
