"""Per-case content checks of an nnU-Net v2 data set (nnU-Net's verify_dataset_integrity, our messages): every
file decodable and free of NaN, every channel on the label's grid (shape, spacing, then origin and direction), the
label values among the declared ones."""

from __future__ import annotations

import numpy as np

from data.errors import DatasetError
from data.problems import IntegrityReport
from formats.nnunet_v2.readers import read_channel_file, spacing_from_affine
from formats.registry import DatasetSpec

__all__ = ["check_nnunet_v2_case"]

_RTOL = 1e-3  # relative tolerance of spacings, as headers round them differently


def _read(path: str, report: IntegrityReport) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        arr, affine = read_channel_file(path)
    except DatasetError as exc:
        report.record(path, exc)
        return None
    if np.isnan(arr).any():
        report.error(path, "contains NaN values; replace them (e.g. by the background value) and save again")
        return None
    return arr, affine


def check_nnunet_v2_case(case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
    """Decode one case and record its problems in ``report``, each naming its file.

    Errors: a file that cannot be decoded or holds NaN; a channel whose shape or spacing differs from the label's
    or from channel 0's; label values not declared in dataset.json. Warnings: origin or direction differing
    between a channel and the label (nnU-Net warns too); a label map with background only.

    Args:
        case: one case of ``spec.training`` (or ``spec.test``: no label, channels checked against each other).
        spec: the data set.
        report: the problem collector.
    """
    dims = spec.spatial_dims
    channels = [(f, _read(f, report)) for f in case["image"]]
    label_file = case.get("label")
    label = _read(label_file, report) if label_file else None
    readable = [(f, r) for f, r in channels if r is not None]
    ref_file, ref = (label_file, label) if label is not None else (readable[0] if readable else (None, None))
    if ref is None:
        return
    ref_spacing = spacing_from_affine(ref[1], dims)
    what = "the label" if ref_file == label_file else f"channel 0 ({ref_file})"
    for f, got in channels:
        if got is None or f == ref_file:
            continue
        arr, affine = got
        if arr.shape != ref[0].shape:
            report.error(f, f"shape {tuple(arr.shape)} differs from {tuple(ref[0].shape)} of {what}; resample it")
            continue
        spacing = spacing_from_affine(affine, dims)
        if not np.allclose(spacing, ref_spacing, rtol=_RTOL, atol=0):
            report.error(
                f, f"spacing {np.round(spacing, 4).tolist()} differs from {np.round(ref_spacing, 4).tolist()} of "
                f"{what}; every channel of a case must share the label's grid - resample it"
            )
        elif not np.allclose(affine, ref[1], rtol=_RTOL, atol=1e-3):
            report.warning(f, f"origin or direction differs from {what} (same shape and spacing); check the overlay")
    if label is None:
        return
    declared = set(spec.label_values or range(len(spec.labels)))
    values = np.unique(label[0])
    if not np.array_equal(values, np.round(values)):
        report.error(label_file, "holds non-integer values; a label map holds the integer values of dataset.json")
        return
    unknown = sorted(int(v) for v in values if int(v) not in declared)
    if unknown:
        report.error(
            label_file, f"label value(s) {unknown} are not declared in dataset.json (declared: {sorted(declared)}); "
            "fix the file or add the labels"
        )
    elif values.tolist() == [0]:
        report.warning(label_file, "holds background only (may be intended)")
