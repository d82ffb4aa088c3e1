"""One entry point for every data format: a registry of the format checks, a configurable check for bundle YAML,
and the exit the command-line tools share."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from transforms.integrity.brats import check_brats2020
from transforms.integrity.figshare import check_figshare
from transforms.integrity.isbi import check_isbi2012
from transforms.integrity.msd import check_msd_task01
from transforms.integrity.png_pairs import check_png_pairs
from data.problems import IntegrityReport

__all__ = ["DATASET_CHECKS", "DatasetIntegrityCheck", "check_dataset", "exit_with_report"]

DATASET_CHECKS: dict[str, Callable[..., IntegrityReport]] = {
    "msd_task01": check_msd_task01,
    "brats2020": check_brats2020,
    "isbi2012": check_isbi2012,
    "figshare": check_figshare,
    "png_pairs": check_png_pairs,
}


def check_dataset(data_format: str, dataset_dir: str | os.PathLike, **options: Any) -> IntegrityReport:
    """Check a data set in one of our formats; every problem is reported, none raised.

    Args:
        data_format: one of :data:`DATASET_CHECKS` (``msd_task01``, ``brats2020``, ``isbi2012``, ``figshare``,
            ``png_pairs``).
        dataset_dir: the data set's folder.
        options: keyword arguments of that format's check (e.g. ``labels``, ``num_channels``, ``progress``).

    Raises:
        ValueError: an unknown format (the message lists the known ones).
    """
    if data_format not in DATASET_CHECKS:
        raise ValueError(f"unknown data format {data_format!r}; supported formats: {sorted(DATASET_CHECKS)}.")
    return DATASET_CHECKS[data_format](dataset_dir, **options)


class DatasetIntegrityCheck:
    """A data-set check declared in bundle YAML (the data fragments' ``data#integrity_check``), run when called.

    Args:
        data_format: one of :data:`DATASET_CHECKS`.
        dataset_dir: the data set's folder.
        progress: show a progress bar over the cases.
        options: keyword arguments of that format's check.

    Raises:
        ValueError: an unknown format (at construction, listing the known ones).
    """

    def __init__(self, data_format: str, dataset_dir: str | os.PathLike, progress: bool = True, **options: Any):
        if data_format not in DATASET_CHECKS:
            raise ValueError(f"unknown data format {data_format!r}; supported formats: {sorted(DATASET_CHECKS)}.")
        self.data_format = data_format
        self.dataset_dir = dataset_dir
        self.progress = progress
        self.options = options

    def __repr__(self) -> str:
        return f"{type(self).__name__}(data_format={self.data_format!r}, dataset_dir={str(self.dataset_dir)!r})"

    def __call__(self) -> IntegrityReport:
        """Run the check and return its report (nothing printed, nothing raised for bad data)."""
        return check_dataset(self.data_format, self.dataset_dir, progress=self.progress, **self.options)

    def run(self, strict: bool | str = False) -> IntegrityReport:
        """Run the check, print the report and leave with status 1 on errors (see :func:`exit_with_report`)."""
        return exit_with_report(self(), strict=strict)


def _as_flag(value: Any) -> bool:
    """Booleans as MONAI's command line delivers them ("True", "false", "1", ...)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def exit_with_report(report: IntegrityReport, strict: bool | str = False) -> IntegrityReport:
    """Print the report (every finding, then the summary line) and leave with status 1 if it has errors.

    Args:
        report: the result of a check.
        strict: warnings fail too (``"true"``/``"false"`` strings from the command line are understood).

    Returns:
        ``report`` when it passes.

    Raises:
        SystemExit: status 1 when there is an error (or, with ``strict``, a warning). ``SystemExit`` passes
            through MONAI's config evaluation, so ``python -m monai.bundle run check`` ends with the report, not
            a stack trace.
    """
    print(report.format(), flush=True)
    failed = bool(report.errors) or (_as_flag(strict) and bool(report.warnings))
    if failed:
        print("dataset check FAILED: fix the files named above (every problem is listed).", file=sys.stderr, flush=True)
        raise SystemExit(1)
    print("dataset check passed.", flush=True)
    return report
