"""Content checks of one ISBI 2012 page: decodable, finite, label values; problems go to the
:class:`~data.IntegrityReport`, each naming its stack and page."""

from __future__ import annotations

import numpy as np

from data.problems import IntegrityReport
from data.volume_checks import DuplicateFinder, check_finite, check_label_values, read_volume
from formats.isbi2012.discovery import is_tiff
from formats.registry import DatasetSpec

__all__ = ["check_isbi_page", "decoded_pages"]


def decoded_pages(path: str, report: IntegrityReport, what: str) -> dict[int, np.ndarray]:
    """Page index -> decoded page of a stack, decoded once per check run (kept in ``report.state``); a page or a
    stack that cannot be decoded is recorded once and left out."""
    key = ("isbi_pages", path)
    if key in report.state:
        return report.state[key]
    pages: dict[int, np.ndarray] = {}
    if not is_tiff(path):
        volume = read_volume(path, report, what)
        if volume is not None:
            pages = {page: volume.array[..., page] for page in range(volume.array.shape[-1])}
    else:
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                for page, tiff_page in enumerate(tif.pages):
                    try:
                        pages[page] = tiff_page.asarray()
                    except Exception as err:  # tifffile: TiffFileError, ValueError, struct.error, zlib errors ...
                        report.error(path, f"page {page}: cannot decode the {what} ({type(err).__name__}: {err})")
        except Exception as err:
            report.error(path, f"cannot read the {what} as TIFF ({type(err).__name__}: {err})")
    report.state[key] = pages
    return pages


def check_isbi_page(case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
    """Decode page ``case["page"]`` of the image (and label) stack and check it.

    Checks: the page decodable; no NaN/inf in the image page; no image page identical to another (warning);
    label values among the spec's (error); a label page holding one value only (warning).

    Args:
        case: ``{"image": stack, "label"?: stack, "page": k, "case_id"}`` from discovery.
        spec: the discovered data set (``extra["label_values"]``).
        report: where the problems go.
    """
    duplicates = report.state.setdefault("isbi_duplicates", DuplicateFinder(report, "page"))
    page = int(case["page"])
    image = decoded_pages(case["image"], report, "image stack").get(page)
    if image is not None and check_finite(report, case["image"], image, f"page {page}"):
        duplicates.add(case["image"], image, label=f"page {page} of {case['image']}")
    if case.get("label") is None:
        return
    label = decoded_pages(case["label"], report, "label stack").get(page)
    if label is None:
        return
    labels = spec.extra.get("label_values", spec.label_values)
    if check_label_values(report, case["label"], label, labels, what=f"page {page}", background=None):
        values = np.unique(label)
        if values.size == 1:
            report.warning(case["label"], f"page {page} holds only the value {values[0]:g} (an empty label page)")
