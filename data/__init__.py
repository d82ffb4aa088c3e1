"""The data side that is not a transform: errors of bad data sets and the one problem collector (more to come:
data sets, caches, the slice store, splits, fingerprint and plan)."""

from data.errors import DatasetError
from data.problems import ERROR, WARNING, Finding, IntegrityReport

__all__ = ["DatasetError", "ERROR", "WARNING", "Finding", "IntegrityReport"]
