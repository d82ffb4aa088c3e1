"""Integrity check of ISBI 2012 EM stacks (``train-volume.tif``, ``train-labels.tif``, ``test-volume.tif``:
multi-page TIFF, one page per sample; or 3D NIfTI/NRRD/MHA stacks with the pages last)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data.errors import DatasetError
from data.problems import IntegrityReport
from transforms.integrity.volumes import DuplicateFinder, check_finite, check_label_values, read_volume
from transforms.isbi import ISBI_LABELS, _is_tiff, read_stack_info

__all__ = ["check_isbi2012"]


def _pages(path: str, report: IntegrityReport, what: str) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the pages one by one; a page that cannot be decoded is recorded and skipped."""
    if not _is_tiff(path):
        volume = read_volume(path, report, what)
        if volume is not None:
            for page in range(volume.array.shape[-1]):
                yield page, volume.array[..., page]
        return
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            for page, tiff_page in enumerate(tif.pages):
                try:
                    array = tiff_page.asarray()
                except Exception as err:  # tifffile: TiffFileError, ValueError, struct.error, zlib errors ...
                    report.error(path, f"page {page}: cannot decode the {what} ({type(err).__name__}: {err})")
                    continue
                yield page, array
    except Exception as err:
        report.error(path, f"cannot read the {what} as TIFF ({type(err).__name__}: {err})")


def _stack_info(path: str, report: IntegrityReport) -> tuple[int, tuple[int, ...]] | None:
    try:
        return read_stack_info(path)
    except DatasetError as err:
        report.record(path, err)
        return None


def _check_images(path: str, report: IntegrityReport, progress: bool) -> None:
    duplicates = DuplicateFinder(report, "page")
    name = os.path.basename(path)
    pages = tqdm(_pages(path, report, "image stack"), desc=f"checking {name}", unit="page", disable=not progress)
    for page, array in pages:
        if check_finite(report, path, array, f"page {page}"):
            duplicates.add(path, array, label=f"page {page} of {path}")


def _check_labels(path: str, labels: Sequence[float], report: IntegrityReport, progress: bool) -> None:
    name = os.path.basename(path)
    pages = tqdm(_pages(path, report, "label stack"), desc=f"checking {name}", unit="page", disable=not progress)
    for page, array in pages:
        if check_label_values(report, path, array, labels, what=f"page {page}", background=None):
            values = np.unique(array)
            if values.size == 1:
                report.warning(path, f"page {page} holds only the value {values[0]:g} (an empty label page)")


def check_isbi2012(
    dataset_dir: str | os.PathLike,
    image_file: str = "train-volume.tif",
    label_file: str | None = "train-labels.tif",
    test_file: str | None = "test-volume.tif",
    num_pages: int | None = None,
    page_shape: Sequence[int] | None = None,
    labels: Sequence[float] = ISBI_LABELS,
    progress: bool = True,
) -> IntegrityReport:
    """Check ISBI 2012 stacks and report every problem, each with its file.

    Checks: image and label stacks present and readable; all pages grey 2D of one size; the page count
    (``num_pages``, and label stack = image stack) and page size (``page_shape``, and label = image); every page
    decodable; no NaN/inf in image pages; label values in ``labels`` (error); label pages holding one value only
    (warning); identical image pages (warning). ``test_file`` is checked as an image stack when it exists.

    Args:
        dataset_dir: folder holding the stacks.
        image_file: the image stack (relative to ``dataset_dir``).
        label_file: the label stack; None for unlabelled data.
        test_file: an unlabelled stack checked when present; None: none.
        num_pages: expected page count (30 for the real stacks); None: any.
        page_shape: expected (rows, columns) of each page ((512, 512) for the real stacks); None: any.
        labels: allowed label values (0 membrane, 255 cell).
        progress: show a progress bar over the pages.
    """
    root = Path(dataset_dir).expanduser().absolute()
    report = IntegrityReport("isbi2012", root)
    if not root.is_dir():
        report.error(root, "not a folder (expected the folder of train-volume.tif and train-labels.tif)")
        return report
    image = str(root / image_file)
    info = _stack_info(image, report)
    if info is not None:
        report.num_cases = info[0]
        if num_pages is not None and info[0] != num_pages:
            report.error(image, f"{info[0]} page(s), expected {num_pages}")
        if page_shape is not None and tuple(info[1]) != tuple(page_shape):
            report.error(image, f"pages of {info[1]}, expected {tuple(page_shape)}")
        _check_images(image, report, progress)
    if label_file is not None:
        label = str(root / label_file)
        label_info = _stack_info(label, report)
        if label_info is not None and info is not None:
            if label_info[0] != info[0]:
                report.error(label, f"{label_info[0]} page(s), but the image stack {image} has {info[0]}")
            if label_info[1] != info[1]:
                report.error(label, f"pages of {label_info[1]}, but the image stack {image} has pages of {info[1]}")
        if label_info is not None:
            _check_labels(label, labels, report, progress)
    if test_file is not None and (root / test_file).exists():
        test = str(root / test_file)
        test_info = _stack_info(test, report)
        if test_info is not None:
            if info is not None and test_info[1] != info[1]:
                report.warning(test, f"pages of {test_info[1]}, the training stack {image} has pages of {info[1]}")
            _check_images(test, report, progress)
    return report
