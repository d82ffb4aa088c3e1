"""Content checks of one image/mask pair: both decoded, colour reduced as the bundles do, values checked;
problems go to the :class:`~data.IntegrityReport`, each naming its file."""

from __future__ import annotations

import numpy as np

from data.problems import IntegrityReport
from data.volume_checks import DuplicateFinder, check_finite, check_label_values, read_volume
from formats.png_pairs.discovery import PICTURE_CHANNELS
from formats.registry import DatasetSpec

__all__ = ["check_png_pair"]


def _grey(path: str, array: np.ndarray, what: str, report: IntegrityReport) -> np.ndarray | None:
    """(width, height) of a picture, colour reduced as the bundles do (mask: max of R, G, B); None if unusable."""
    channels = 1 if array.ndim == 2 else int(array.shape[-1]) if array.ndim == 3 else 0
    if channels not in PICTURE_CHANNELS:
        report.error(
            path,
            f"{what} of shape {array.shape} has {channels or 'no'} channel axis/count; expected a 2D picture "
            "with 1 (grey), 3 (RGB) or 4 (RGBA) channels",
        )
        return None
    if channels == 1:
        return array if array.ndim == 2 else array[..., 0]
    if channels == 2:
        return array[..., 0]
    return array[..., :3].max(axis=-1)


def check_png_pair(case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
    """Decode the image and mask of one pair and check them.

    Checks: both decodable; 1-4 channels; no NaN/inf in the image, not identical to another image (warning); the
    mask's values among the spec's (error), not all background (warning). Channel counts and sizes from the
    headers were checked by discovery; a decoded size that differs is still reported here.

    Args:
        case: ``{"image": path, "label": path, "case_id"}`` from discovery.
        spec: the discovered data set (``extra["label_values"]``).
        report: where the problems go.
    """
    duplicates = report.state.setdefault("png_duplicates", DuplicateFinder(report, "image"))
    image_path, mask_path = case["image"], case["label"]
    image, mask = read_volume(image_path, report, "image"), read_volume(mask_path, report, "mask")
    grey_image = _grey(image_path, image.array, "image", report) if image is not None else None
    grey_mask = _grey(mask_path, mask.array, "mask", report) if mask is not None else None
    if grey_image is not None and check_finite(report, image_path, image.array, "image"):
        duplicates.add(image_path, image.array)
    if grey_mask is not None:
        if grey_image is not None and grey_mask.shape != grey_image.shape:
            report.error(
                mask_path,
                f"mask of {' x '.join(map(str, grey_mask.shape))} pixels, its image {image_path} "
                f"{' x '.join(map(str, grey_image.shape))} (width x height)",
            )
        check_label_values(report, mask_path, grey_mask, spec.extra.get("label_values", (0, 255)), what="mask")
