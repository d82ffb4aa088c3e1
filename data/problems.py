"""The result of a data-set integrity check: every problem found, each with its file, and a one-line summary."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from data.errors import DatasetError

__all__ = ["ERROR", "MAX_LISTED", "WARNING", "Finding", "IntegrityReport"]

ERROR = "error"  # the data set cannot be trained on as it is
WARNING = "warning"  # worth a look, training can go on (empty label maps, modalities with different geometry, ...)
MAX_LISTED = 20  # findings spelled out in the message of a DatasetError (the report itself keeps them all)


@dataclass(frozen=True)
class Finding:
    """One problem of a data set.

    Attributes:
        severity: ``"error"`` (training would fail or learn from wrong data) or ``"warning"``.
        path: the file (or folder) concerned, as given to the check (absolute paths in practice).
        message: what is wrong, without the path.
    """

    severity: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity.upper():<7} {self.path}: {self.message}"


class IntegrityReport:
    """Findings of one check of one data set, in the order they were found.

    Args:
        data_format: name of the format checked (``"msd"``, ...), quoted in the summary.
        dataset_dir: the folder checked, quoted in the summary.
    """

    def __init__(self, data_format: str, dataset_dir: str | os.PathLike) -> None:
        self.data_format = data_format
        self.dataset_dir = str(dataset_dir)
        self.findings: list[Finding] = []
        self.num_cases = 0
        self.state: dict[str, Any] = {}  # shared by the per-case checks of one run (e.g. a duplicate finder)

    def error(self, path: str | os.PathLike, message: str) -> None:
        """Record an error about ``path``."""
        self.findings.append(Finding("error", str(path), message))

    def warning(self, path: str | os.PathLike, message: str) -> None:
        """Record a warning about ``path``."""
        self.findings.append(Finding("warning", str(path), message))

    def record(self, path: str | os.PathLike, err: DatasetError, severity: str = ERROR) -> None:
        """Record a reader's :class:`~data.DatasetError` (``"<path>: <what>"``) about ``path`` as one finding."""
        path, message = str(path), str(err)
        if message.startswith(f"{path}: "):
            message = message[len(path) + 2 :]
        self.findings.append(Finding(severity, path, message.rstrip(".")))

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def summary(self) -> str:
        """One line: ``"dataset check (msd) of /data/Task01: 2 error(s), 1 warning(s) in 484 case(s)"``."""
        return (
            f"dataset check ({self.data_format}) of {self.dataset_dir}: {len(self.errors)} error(s), "
            f"{len(self.warnings)} warning(s) in {self.num_cases} case(s)"
        )

    def format(self, max_findings: int | None = None) -> str:
        """Every finding on its own line (errors first, then warnings, each in order found), then the summary.

        Args:
            max_findings: list at most this many findings, then ``"... and N more"`` (None: all).
        """
        lines = [str(f) for f in self.errors] + [str(f) for f in self.warnings]
        if max_findings is not None and len(lines) > max_findings:
            lines = lines[:max_findings] + [f"... and {len(lines) - max_findings} more"]
        return "\n".join(lines + [self.summary()])

    def raise_if_errors(self, max_findings: int | None = MAX_LISTED) -> IntegrityReport:
        """Raise :class:`~data.DatasetError` listing the errors (``<file>: <what>``, one a line; warnings stay in the
        report) and the summary line, if there is an error.

        Args:
            max_findings: findings spelled out in the message (the first :data:`MAX_LISTED` by default).

        Returns:
            The report itself when there is none.
        """
        if self.errors:
            lines = [f"{f.path}: {f.message}" for f in self.errors]  # the first line names the first bad file
            if max_findings is not None and len(lines) > max_findings:
                lines = lines[:max_findings] + [f"... and {len(lines) - max_findings} more"]
            raise DatasetError("\n".join(lines + [self.summary()]))
        return self
