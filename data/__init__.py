"""The data side that is not a transform: errors of bad data sets and the one problem collector (more to come:
data sets, caches, the slice store, splits, fingerprint and plan); k-fold cross-validation by case."""

from data.errors import DatasetError
from data.folds import fold_of_groups, kfold_split
from data.problems import ERROR, WARNING, Finding, IntegrityReport

__all__ = ["DatasetError", "ERROR", "WARNING", "Finding", "IntegrityReport", "fold_of_groups", "kfold_split"]
