"""ISBI 2012 EM segmentation challenge (seed 002): multi-page TIFF stacks, one page per sample, split by page.

The challenge's training data are two 30-page TIFF stacks of 512 x 512 8-bit pages: ``train-volume.tif``
(serial-section TEM of the Drosophila ventral nerve cord) and ``train-labels.tif`` (255 = cell interior,
0 = membrane); ``test-volume.tif`` has 30 unlabelled pages. Seed 002 uses 20 pages for training, 5 for
validation and 5 for testing, images scaled from [0, 255] to [0, 1] and labels from {0, 255} to {0, 1}.

A page here is what a case is elsewhere: the data list has one item per page, ``{"image": stack path,
"label": stack path, "page": k, "case_id": "page_07"}``, and :class:`LoadTiffPaged` decodes page ``k`` only.
Stacks sent as a 3D volume in another format (``.nii``/``.nii.gz`` through nibabel, ``.nrrd``/``.mha`` through
ITK, via :class:`transforms.io.LoadVolumed`) are read too: page ``k`` is then the ``k``-th slice along the last axis.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from data.errors import DatasetError
from data.headers import image_suffix, read_image_shape
from data.problems import IntegrityReport
from formats.registry import DatasetSpec

__all__ = ["ISBI_LABELS", "ISBI_SPLIT", "discover_isbi", "is_tiff", "read_stack_info"]

ISBI_LABELS = (0, 255)  # membrane, cell
ISBI_SPLIT = (20, 5, 5)  # seed 002: training / validation / test pages of 30
_TIFF_SUFFIXES = (".tif", ".tiff")


def is_tiff(path: str | os.PathLike) -> bool:
    return image_suffix(path) in _TIFF_SUFFIXES


class _LogRecorder(logging.Handler):
    """Keeps the messages of warnings logged while it is attached (tifffile logs a broken chain of pages)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def read_stack_info(path: str | os.PathLike) -> tuple[int, tuple[int, ...]]:
    """Number of pages and the shape of each page of an image stack, from its header(s) only.

    TIFF: every page of the file (``tifffile``); all pages must be 2D (grey) of one shape. Other formats
    (NIfTI, NRRD, MHA): a 3D volume whose last axis counts the pages.

    Returns:
        ``(num_pages, page_shape)``; a TIFF page shape is (rows, columns).

    Raises:
        DatasetError: missing or unreadable file, a truncated TIFF (a broken chain of pages, fewer pages than its
            ImageJ header declares, page data past the end of the file), colour or differently sized pages, not a
            3D volume; the message names the file.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise DatasetError(f"{path}: file not found.")
    if not is_tiff(path):
        shape = read_image_shape(path)
        if len(shape) != 3:
            raise DatasetError(f"{path}: shape {shape}, expected a 3D stack (X, Y, pages).")
        return shape[-1], tuple(shape[:2])
    import tifffile

    size = os.path.getsize(path)
    complaints = _LogRecorder()
    tifffile.logger().addHandler(complaints)  # tifffile only logs a broken page chain and stops there
    try:
        with tifffile.TiffFile(path) as tif:
            shapes = [tuple(int(s) for s in page.shape) for page in tif.pages]
            declared = (tif.imagej_metadata or {}).get("images")
            beyond = [
                i for i, page in enumerate(tif.pages)
                if any(o + c > size for o, c in zip(page.dataoffsets, page.databytecounts))
            ]  # fmt: skip
    except Exception as err:  # tifffile raises TiffFileError, ValueError, struct.error ...
        raise DatasetError(f"{path}: cannot read as TIFF ({type(err).__name__}: {err})") from err
    finally:
        tifffile.logger().removeHandler(complaints)
    if not shapes:
        raise DatasetError(f"{path}: the TIFF holds no readable page (truncated or corrupt file?).")
    if complaints.messages:
        raise DatasetError(
            f"{path}: damaged TIFF structure after page {len(shapes) - 1} (tifffile: {complaints.messages[0]}); "
            "truncated or corrupt file?"
        )
    if declared is not None and int(declared) != len(shapes):
        raise DatasetError(
            f"{path}: the ImageJ header declares {declared} page(s), {len(shapes)} can be read (truncated file?)."
        )
    if beyond:
        raise DatasetError(f"{path}: page {beyond[0]} ends past the end of the file ({size} bytes; truncated file?).")
    bad = [i for i, s in enumerate(shapes) if len(s) != 2]
    if bad:
        raise DatasetError(f"{path}: page {bad[0]} has shape {shapes[bad[0]]}; expected grey 2D pages.")
    if len(set(shapes)) > 1:
        sizes = sorted(set(shapes))
        raise DatasetError(f"{path}: pages differ in size ({sizes}); expected one page size.")
    return len(shapes), shapes[0]


def _stack_info(path: str, report: IntegrityReport) -> tuple[int, tuple[int, ...]] | None:
    try:
        return read_stack_info(path)
    except DatasetError as err:
        report.record(path, err)
        return None


def _pages(path: str, num_pages: int, prefix: str, label: str | None = None) -> list[dict[str, Any]]:
    width = max(2, len(str(num_pages - 1)))
    items = []
    for page in range(num_pages):
        item: dict[str, Any] = {"image": path, "page": page, "case_id": f"{prefix}{page:0{width}d}"}
        if label is not None:
            item["label"] = label
        items.append(item)
    return items


def discover_isbi(
    root: Path,
    report: IntegrityReport,
    image_file: str = "train-volume.tif",
    label_file: str | None = "train-labels.tif",
    test_file: str | None = "test-volume.tif",
    num_pages: int | None = None,
    page_shape: Sequence[int] | None = None,
    labels: Sequence[float] = ISBI_LABELS,
) -> DatasetSpec | None:
    """One case per page of the ISBI 2012 stacks, checked from the TIFF headers, every problem recorded.

    Recorded problems: a stack missing or unreadable (a truncated TIFF, colour or differently sized pages, ...);
    a page count other than ``num_pages`` or page size other than ``page_shape``; image and label stacks that
    differ in page count or page size (errors); a test stack whose page size differs (warning).

    Args:
        root: folder holding the stacks (absolute).
        report: where the problems go.
        image_file: image stack, relative to ``root``.
        label_file: its label stack; None: ``image_file`` is unlabelled (its pages are test cases).
        test_file: an unlabelled stack read when present (its pages are test cases ``test_page_NN``); None: none.
        num_pages: expected page count (30 for the real stacks); None accepts any count.
        page_shape: expected (rows, columns) of every page ((512, 512) for the real stacks); None: any.
        labels: label values of the label stack (0 membrane, 255 cell), checked when pages are decoded.

    Returns:
        The spec: ``{"image": stack path, "label": stack path, "page": k, "case_id": "page_07"}`` per page in page
        order (training, or test without ``label_file``), or None when ``root`` is not a folder.
    """
    if not root.is_dir():
        report.error(root, "not a folder (expected the folder of train-volume.tif and train-labels.tif)")
        return None
    image = str(root / image_file)
    info = _stack_info(image, report)
    pages = 0
    if info is not None:
        pages = info[0]
        if num_pages is not None and info[0] != num_pages:
            report.error(image, f"{info[0]} page(s), expected {num_pages}")
        if page_shape is not None and tuple(info[1]) != tuple(page_shape):
            report.error(image, f"pages of {info[1]}, expected {tuple(page_shape)}")
    label = None
    if label_file is not None:
        label = str(root / label_file)
        label_info = _stack_info(label, report)
        if label_info is not None and info is not None:
            if label_info[0] != info[0]:
                report.error(label, f"{label_info[0]} page(s), but the image stack {image} has {info[0]}")
            if label_info[1] != info[1]:
                report.error(label, f"pages of {label_info[1]}, but the image stack {image} has pages of {info[1]}")
    own = _pages(image, pages, "page_", label)
    training, test = (own, []) if label is not None else ([], own)
    if test_file is not None and test_file != image_file and (root / test_file).exists():
        path = str(root / test_file)
        test_info = _stack_info(path, report)
        if test_info is not None:
            if info is not None and test_info[1] != info[1]:
                report.warning(path, f"pages of {test_info[1]}, the training stack {image} has pages of {info[1]}")
            test += _pages(path, test_info[0], "test_page_")
    report.num_cases = len(training) + len(test)
    values = [int(v) for v in labels]
    return DatasetSpec(
        format="isbi2012",
        root=root,
        name=root.name,
        channel_names=["EM"],
        labels={"membrane": 0, "cell": 1},
        training=training,
        test=test,
        spatial_dims=2,
        label_values=values,
        extra={"label_values": values, "page_shape": tuple(info[1]) if info else None},
    )
