"""Integrity check of image/mask pairs in two folders matched by name (seed 004: Liver, Cell; PNG and the other
formats MONAI's ``LoadImage`` reads)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data.problems import IntegrityReport
from data.errors import DatasetError
from transforms.image_headers import read_image_shape
from transforms.integrity.volumes import DuplicateFinder, Volume, check_finite, check_label_values, read_volume
from transforms.png_pairs import PNG_PAIR_SUFFIXES, _scan

__all__ = ["check_png_pairs"]

_CHANNELS = (1, 2, 3, 4)  # grey, grey + alpha, RGB, RGBA (what ToGrayscaled reduces)


def _grey(path: str, array: np.ndarray, what: str, report: IntegrityReport) -> np.ndarray | None:
    """(width, height) of a picture, colour reduced as the bundles do (mask: max of R, G, B); None if unusable."""
    channels = 1 if array.ndim == 2 else int(array.shape[-1]) if array.ndim == 3 else 0
    if channels not in _CHANNELS:
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


def _read(path: str, what: str, report: IntegrityReport) -> Volume | None:
    """Header (as the bundles' data list reads it; catches TIFFs whose extra channels a reader would drop), then
    the pixels."""
    try:
        shape = read_image_shape(path)
    except DatasetError as err:
        report.record(path, err)
        return None
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in _CHANNELS):
        report.error(path, f"{what} of shape {shape} (width, height, channels): expected a 2D picture with 1 (grey), "
                     "2 (grey + alpha), 3 (RGB) or 4 (RGBA) channels")
        return None
    return read_volume(path, report, what)


def check_png_pairs(
    dataset_dir: str | os.PathLike,
    images_subdir: str = "images",
    masks_subdir: str = "masks",
    mask_suffix: str = "",
    image_suffix: str = "",
    labels: Sequence[float] = (0, 255),
    suffixes: Sequence[str] = PNG_PAIR_SUFFIXES,
    progress: bool = True,
) -> IntegrityReport:
    """Check image/mask pairs and report every problem, each with its file.

    Checks: both folders present; every image has a mask and every mask an image (each unmatched file is an
    error); no two files for one name; every file decodable; 1, 2, 3 or 4 channels; image and mask of one width
    and height; mask values in ``labels`` (error) and not all background (warning); no NaN/inf in images; no
    image identical to another (warning).

    Args:
        dataset_dir: folder holding the two sub-folders.
        images_subdir: images folder, relative to ``dataset_dir``.
        masks_subdir: masks folder (the images folder itself when masks are told apart by ``mask_suffix``).
        mask_suffix: end of a mask's name before the extension (``"_mask"`` for ``000_mask.png``).
        image_suffix: end of an image's name before the extension.
        labels: allowed mask values (0 and 255; masks saved as 0/1 need ``[0, 1]``).
        suffixes: file extensions taken as pictures.
        progress: show a progress bar over the pairs.
    """
    root = Path(dataset_dir).expanduser().absolute()
    images_root, masks_root = root / images_subdir, root / masks_subdir
    report = IntegrityReport("png_pairs", root)
    missing = [folder for folder in dict.fromkeys([images_root, masks_root]) if not folder.is_dir()]
    for folder in missing:
        report.error(folder, "not a folder (expected the images and masks folders)")
    if missing:
        return report
    same = images_root == masks_root
    if same and not mask_suffix:
        report.error(images_root, "images and masks in one folder need a mask_suffix (e.g. '_mask')")
        return report
    images, image_twins = _scan(images_root, image_suffix, suffixes, exclude_suffix=mask_suffix if same else "")
    masks, mask_twins = _scan(masks_root, mask_suffix, suffixes)
    for first, second in image_twins + mask_twins:
        report.error(second, f"a second file for the name of {first.name} (which one is meant?)")
    if not images:
        report.error(images_root, f"no image file (suffixes {list(suffixes)})")
    for name in sorted(set(images) - set(masks)):
        report.error(images[name], f"image without a mask: no {name}{mask_suffix}.<ext> in {masks_root}")
    for name in sorted(set(masks) - set(images)):
        report.error(masks[name], f"mask without an image: no {name}{image_suffix}.<ext> in {images_root}")
    pairs = sorted(set(images) & set(masks))
    report.num_cases = len(pairs)
    duplicates = DuplicateFinder(report, "image")
    for name in tqdm(pairs, desc="checking image/mask pairs", unit="pair", disable=not progress):
        image_path, mask_path = str(images[name]), str(masks[name])
        image, mask = _read(image_path, "image", report), _read(mask_path, "mask", report)
        grey_image = _grey(image_path, image.array, "image", report) if image is not None else None
        grey_mask = _grey(mask_path, mask.array, "mask", report) if mask is not None else None
        if grey_image is not None:
            if check_finite(report, image_path, image.array, "image"):
                duplicates.add(image_path, image.array)
        if grey_mask is not None:
            if grey_image is not None and grey_mask.shape != grey_image.shape:
                report.error(
                    mask_path,
                    f"mask of {' x '.join(map(str, grey_mask.shape))} pixels, its image {image_path} "
                    f"{' x '.join(map(str, grey_image.shape))} (width x height)",
                )
            check_label_values(report, mask_path, grey_mask, labels, what="mask")
    return report
