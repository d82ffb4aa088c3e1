"""The data side that is not a transform: errors of bad data sets, the one problem collector, image headers, checks
of decoded files, splits, data sets of decoded volumes (cache, 3D -> 2D slices) and the preprocessed slice store, k-fold cross-validation."""

from data.errors import DatasetError
from data.folds import fold_of_groups, kfold_split
from data.problems import ERROR, MAX_LISTED, WARNING, Finding, IntegrityReport

__all__ = ["DatasetError", "ERROR", "MAX_LISTED", "WARNING", "Finding", "IntegrityReport", "fold_of_groups", "kfold_split"]
