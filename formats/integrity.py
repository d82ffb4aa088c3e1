"""The integrity check of a data set in any registered format (discovery, then the content checks of every case), as
a configurable object for bundle YAML and with the exit the command-line tools share."""

from __future__ import annotations

import os
import sys
from typing import Any

from data.problems import IntegrityReport
from formats.registry import FORMATS

__all__ = ["DatasetIntegrityCheck", "check_dataset", "exit_with_report"]


def check_dataset(
    data_format: str, dataset_dir: str | os.PathLike, progress: bool = True, **options: Any
) -> IntegrityReport:
    """Check a data set in a registered format; every problem is reported, none raised.

    Args:
        data_format: a name of :data:`~formats.FORMATS` (``msd``, ``brats2020``, ``isbi2012``, ``figshare``,
            ``png_pairs``, ...), or ``"auto"``.
        dataset_dir: the data set's folder.
        progress: show a progress bar over the cases.
        options: discovery options of that format (e.g. ``labels``, ``num_channels``, ``modalities``).

    Raises:
        ValueError: an unknown format (the message lists the registered ones).
    """
    return FORMATS.check(dataset_dir, data_format, progress=progress, **options)


class DatasetIntegrityCheck:
    """A data-set check declared in bundle YAML (the data fragments' ``data#integrity_check``), run when called.

    Args:
        data_format: a name of :data:`~formats.FORMATS`.
        dataset_dir: the data set's folder.
        progress: show a progress bar over the cases.
        options: discovery options of that format (what the bundle expects: ``num_channels``, ``labels``, ...).

    Raises:
        ValueError: an unknown format (at construction, listing the known ones).
    """

    def __init__(self, data_format: str, dataset_dir: str | os.PathLike, progress: bool = True, **options: Any):
        FORMATS.get(data_format)  # an unknown name fails here, listing the registered ones
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
