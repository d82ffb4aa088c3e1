"""Content checks of one Figshare ``.mat`` file: the image decoded and finite, the mask's values; problems go to
the :class:`~data.IntegrityReport`, each naming its file."""

from __future__ import annotations

from data.errors import DatasetError
from data.problems import IntegrityReport
from data.volume_checks import DuplicateFinder, check_finite, check_label_values
from formats.figshare.readers import read_mat_field
from formats.registry import DatasetSpec

__all__ = ["check_figshare_case"]


def check_figshare_case(case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
    """Decode ``cjdata.image`` and ``cjdata.tumorMask`` of one file and check them.

    Checks: both decodable; the image without NaN/inf and not identical to another file's (warning); the mask's
    values 0 and 1 (error), not empty (warning). Fields, shapes, the class label and the PID were checked by
    discovery and are not reported twice.

    Args:
        case: ``{"image": path, "label": path, "case_id", ...}`` from discovery (one file).
        spec: the discovered data set.
        report: where the problems go.
    """
    duplicates = report.state.setdefault("figshare_duplicates", DuplicateFinder(report, "cjdata.image"))
    path = case["image"]
    try:
        image = read_mat_field(path, "cjdata/image")
        mask = read_mat_field(path, "cjdata/tumorMask")
    except DatasetError as err:
        report.record(path, err)
        return
    if check_finite(report, path, image, "cjdata.image"):
        duplicates.add(path, image)
    check_label_values(report, path, mask, spec.extra.get("label_values", (0, 1)), what="cjdata.tumorMask")
