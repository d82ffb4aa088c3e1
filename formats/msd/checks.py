"""Content checks of one MSD case (after nnU-Net's ``verify_dataset_integrity``): every file decoded, its values
and geometry checked; problems go to the :class:`~data.IntegrityReport`, each naming its file."""

from __future__ import annotations

from data.headers import NIFTI_SUFFIXES, file_problem, image_suffix
from data.problems import IntegrityReport
from data.volume_checks import DuplicateFinder, check_finite, check_label_values, compare_geometry, read_volume
from formats.registry import DatasetSpec

__all__ = ["check_msd_case"]


def check_msd_case(case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
    """Decode the image and label of ``case`` and check them.

    Checks: the files decodable (a truncated ``.nii.gz`` is an error naming it); no NaN/inf; no image identical to
    another case's (warning); the label's affine equal to the image's (for non-NIfTI files: discovery compares
    NIfTI affines from the headers), its values among the spec's label values (error), not empty (warning).
    What discovery found from the headers (missing files, dimensions, channel counts, shapes) is not reported
    twice.

    Args:
        case: ``{"image", "label"?, "case_id"}`` from :func:`~formats.msd.discovery.discover_msd`.
        spec: the discovered data set (``extra["num_channels"]``, ``extra["label_values"]``).
        report: where the problems go.
    """
    duplicates = report.state.setdefault("msd_duplicates", DuplicateFinder(report, "image"))
    channels = spec.extra.get("num_channels")
    label_values = spec.extra.get("label_values")
    image_path, label_path = case["image"], case.get("label")
    image = read_volume(image_path, report, "image") if file_problem(image_path) is None else None
    image_ok = image is not None
    if image is not None:
        array = image.array[..., None] if image.array.ndim == 3 and channels in (None, 1) else image.array
        # shapes and channel counts were checked from the headers by discovery: not reported twice
        image_ok = array.ndim == 4 and (channels is None or array.shape[3] == channels)
        check_finite(report, image_path, image.array, "image")
        duplicates.add(image_path, image.array)
    if label_path is None or file_problem(label_path) is not None:  # discovery named it
        return
    label = read_volume(label_path, report, "label")
    if label is None:
        return
    array = label.array[..., 0] if label.array.ndim == 4 and label.array.shape[3] == 1 else label.array
    both_nifti = all(image_suffix(p) in NIFTI_SUFFIXES for p in (image_path, label_path))
    if image_ok and array.shape == image.array.shape[:3] and not both_nifti:  # NIfTI affines: checked by discovery
        compare_geometry(report, label_path, label.affine, image_path, image.affine, severity="error")
    if label_values:
        check_label_values(report, label_path, array, label_values)
