"""Comparisons of bundles the way the seeds compare them: a matrix of runs (bundles x losses x seeds) trained with
one budget on one split, a results table and bar chart, and the pictures of each run."""

from __future__ import annotations

from .matrix import MatrixError, RunSpec, config_files, expand_matrix, load_matrix, read_matrix_file
from .pictures import (
    case_figure,
    curves_figure,
    draw_pictures,
    gallery_figure,
    run_pictures,
    saliency,
    saliency_figure,
    save_figure,
    select_gallery,
)
from .results import aggregate, bar_chart, markdown_table, write_results
from .runner import ComparisonRunner, data_override, make_split
from .tensorboard import read_scalars

__all__ = [
    "ComparisonRunner",
    "MatrixError",
    "RunSpec",
    "aggregate",
    "bar_chart",
    "case_figure",
    "config_files",
    "curves_figure",
    "data_override",
    "draw_pictures",
    "expand_matrix",
    "gallery_figure",
    "load_matrix",
    "make_split",
    "markdown_table",
    "read_matrix_file",
    "read_scalars",
    "run_pictures",
    "saliency",
    "saliency_figure",
    "save_figure",
    "select_gallery",
    "write_results",
]
