"""Content checks of one BraTS2020 case: every volume decoded; values, geometry and label values checked; problems
go to the :class:`~data.IntegrityReport`, each naming its file."""

from __future__ import annotations

import numpy as np

from data.problems import IntegrityReport
from data.volume_checks import DuplicateFinder, Volume, check_finite, check_label_values, compare_geometry, read_volume
from formats.registry import DatasetSpec
from transforms.io import AFFINE_TOLERANCE_MM

__all__ = ["check_brats_case"]


def _compare_modalities(
    report: IntegrityReport, path: str, affine: np.ndarray, reference: str, reference_affine: np.ndarray
) -> None:
    """Modalities are stacked as channels on the first one's grid (``LoadVolumed``): a difference up to
    ``AFFINE_TOLERANCE_MM`` (header rounding) is a warning, a larger one an error."""
    shift = float(np.abs(np.asarray(affine) - np.asarray(reference_affine)).max())
    if shift == 0:
        return
    if shift <= AFFINE_TOLERANCE_MM:
        report.warning(
            path, f"affine differs from {reference} by up to {shift:.2g} mm (header rounding?); stacked on its grid"
        )
        return
    compare_geometry(report, path, affine, reference, reference_affine, severity="error")


def check_brats_case(case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
    """Decode every volume of ``case`` and check it.

    Checks: each volume decodable (a truncated ``.nii.gz`` is named); no NaN/inf; one affine for all modalities
    (a difference up to ``AFFINE_TOLERANCE_MM``, header rounding, is a warning: ``LoadVolumed`` stacks them on the
    first modality's grid; a larger one an error); the label map on their grid (error), values among the spec's
    label values (error), not empty (warning); no case identical to another (warning). Dimensions and shapes were
    checked from the headers by discovery and are not reported twice.

    Args:
        case: ``{"image": [path per modality], "label"?, "case_id"}`` from discovery.
        spec: the discovered data set (``extra["label_values"]``).
        report: where the problems go.
    """
    duplicates = report.state.setdefault("brats_duplicates", DuplicateFinder(report, "volume"))
    volumes: dict[str, Volume] = {}
    reference: str | None = None
    for path, modality in zip(case["image"], spec.extra.get("modalities", spec.channel_names)):
        volume = read_volume(path, report, f"{modality} volume")
        if volume is None or volume.array.ndim != 3:
            continue
        check_finite(report, path, volume.array, f"{modality} volume")
        if reference is None:
            reference = path
            duplicates.add(path, volume.array)
        elif volume.array.shape != volumes[reference].array.shape:
            continue
        else:
            _compare_modalities(report, path, volume.affine, reference, volumes[reference].affine)
        volumes[path] = volume
    label_path = case.get("label")
    if label_path is None:
        return
    label = read_volume(label_path, report, "label")
    if label is None:
        return
    if label.array.ndim == 3 and reference is not None and label.array.shape == volumes[reference].array.shape:
        compare_geometry(report, label_path, label.affine, reference, volumes[reference].affine, severity="error")
    check_label_values(report, label_path, label.array, spec.extra.get("label_values", spec.label_values))
