"""The error of a bad data set: its message names the offending file and says what to do."""

from __future__ import annotations

__all__ = ["DatasetError"]


class DatasetError(ValueError):
    """A data set is malformed; the message names the offending file (``dataset.json`` or a volume)."""
