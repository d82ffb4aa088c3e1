"""Image/mask pairs in two folders matched by name (seed 004: Liver, 400 and Cell, 30 images of 512 x 512).

``images/000.png`` goes with ``masks/000.png``; name suffixes are allowed, also in one folder
(``train/000.png`` with ``train/000_mask.png``, as some copies of the Liver set are laid out). Files are read
by MONAI's ``LoadImaged``, which picks the reader by suffix: PNG/JPEG/BMP through Pillow (``PILReader``),
TIFF, ``.nrrd``, ``.mha`` through ITK, ``.nii``/``.nii.gz`` through nibabel. Like every MONAI reader, Pillow's
array is returned (width, height), i.e. transposed from numpy's (rows, columns); images and masks alike, so
pairs stay aligned.

Masks are usually 0/255 (sometimes 0/1, sometimes saved as RGB): check the values with
``CheckVolumed(allowed_labels=[0, 255])`` and map them with MONAI's ``MapLabelValued``; reduce RGB with
:class:`ToGrayscaled`.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

from data.errors import DatasetError
from transforms.checks import ReportsLastFailure, _source_of
from transforms.image_headers import image_suffix as _file_suffix
from transforms.image_headers import read_image_shape
from transforms.splits import split_by_group

__all__ = ["PNG_PAIR_SUFFIXES", "ToGrayscaled", "load_png_pairs_datalist", "split_png_pairs"]

PNG_PAIR_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".nii", ".nii.gz", ".nrrd", ".mha")
_MAX_LISTED = 20
_CHANNELS = (1, 2, 3, 4)  # grey, grey + alpha, RGB, RGBA: what ToGrayscaled reduces


def _listing(names: Sequence[str]) -> str:
    more = len(names) - _MAX_LISTED
    shown = list(names[:_MAX_LISTED]) + ([f"... and {more} more"] if more > 0 else [])
    return ", ".join(shown)


def _scan(
    folder: Path, suffix: str, suffixes: Sequence[str], exclude_suffix: str = ""
) -> tuple[dict[str, Path], list[tuple[Path, Path]]]:
    """``{name without extension and ``suffix``: path}`` of the image files of ``folder``, and the pairs of files
    that share one name (``000.png`` and ``000.bmp``)."""
    table: dict[str, Path] = {}
    duplicates = []
    for path in sorted(folder.iterdir()):
        ext = _file_suffix(path)
        if not path.is_file() or ext not in suffixes:
            continue
        stem = path.name[: -len(ext)]
        if exclude_suffix and stem.endswith(exclude_suffix):
            continue
        if suffix:
            if not stem.endswith(suffix):
                continue
            stem = stem[: -len(suffix)]
        if stem in table:
            duplicates.append((table[stem], path))
        table[stem] = path
    return table, duplicates


def _index(folder: Path, suffix: str, suffixes: Sequence[str], exclude_suffix: str = "") -> dict[str, Path]:
    """As :func:`_scan`; two files for one name raise :class:`DatasetError`."""
    table, duplicates = _scan(folder, suffix, suffixes, exclude_suffix)
    if duplicates:
        names = [f"{first.name} and {second.name}" for first, second in duplicates]
        raise DatasetError(f"{folder}: several files for one name: {_listing(names)}.")
    return table


def load_png_pairs_datalist(
    images_dir: str | os.PathLike,
    masks_dir: str | os.PathLike | None = None,
    mask_suffix: str = "",
    image_suffix: str = "",
    suffixes: Sequence[str] = PNG_PAIR_SUFFIXES,
    check_sizes: bool = True,
) -> list[dict[str, Any]]:
    """Data list of image/mask pairs matched by file name (extension and the given suffixes ignored).

    Args:
        images_dir: folder of the images.
        masks_dir: folder of the masks; None: the images folder (then ``mask_suffix`` must tell masks apart).
        mask_suffix: end of a mask's name before the extension (``"_mask"`` for ``000_mask.png``).
        image_suffix: end of an image's name before the extension (rarely needed).
        suffixes: file extensions taken as images (others, e.g. ``Thumbs.db``, are ignored).
        check_sizes: read every header (Pillow/nibabel/ITK; no pixel data) and check that image and mask
            have the same width and height.

    Returns:
        ``[{"image": path, "label": path, "case_id": name}, ...]`` sorted by name.

    Raises:
        DatasetError: a folder missing or without images; names without a partner (listing all of them, up to
            20 per side); two files for one name; image and mask sizes that differ; a picture with another number
            of channels than 1-4. Messages name the files.
    """
    images_root = Path(images_dir).expanduser().absolute()
    masks_root = Path(masks_dir).expanduser().absolute() if masks_dir is not None else images_root
    for folder in {images_root, masks_root}:
        if not folder.is_dir():
            raise DatasetError(f"{folder}: not a folder.")
    same = masks_root == images_root
    if same and not mask_suffix:
        raise DatasetError(f"{images_root}: images and masks in one folder need a mask_suffix (e.g. '_mask').")
    images = _index(images_root, image_suffix, suffixes, exclude_suffix=mask_suffix if same else "")
    masks = _index(masks_root, mask_suffix, suffixes)
    if not images:
        raise DatasetError(f"{images_root}: no image file (suffixes {list(suffixes)}).")
    lonely_images = sorted(set(images) - set(masks))
    lonely_masks = sorted(set(masks) - set(images))
    if lonely_images or lonely_masks:
        parts = []
        if lonely_images:
            names = [images[n].name for n in lonely_images]
            parts.append(f"{len(names)} image(s) in {images_root} without a mask in {masks_root}: {_listing(names)}")
            parts.extend(f"{images[n]}: image without a mask" for n in lonely_images[:_MAX_LISTED])
        if lonely_masks:
            names = [masks[n].name for n in lonely_masks]
            parts.append(f"{len(names)} mask(s) in {masks_root} without an image in {images_root}: {_listing(names)}")
            parts.extend(f"{masks[n]}: mask without an image" for n in lonely_masks[:_MAX_LISTED])
        hint = f" (masks are matched as <name>{mask_suffix}.<ext>)" if mask_suffix else ""
        raise DatasetError("unmatched image/mask names" + hint + ":\n  " + "\n  ".join(parts))
    datalist, problems = [], []
    for name in sorted(images):
        item = {"image": str(images[name]), "label": str(masks[name]), "case_id": name}
        if check_sizes:
            try:
                image_shape, mask_shape = read_image_shape(item["image"]), read_image_shape(item["label"])
            except DatasetError as err:
                problems.append(str(err))
                continue
            bad_channels = [
                (path, shape) for path, shape in ((item["image"], image_shape), (item["label"], mask_shape))
                if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in _CHANNELS)
            ]  # fmt: skip
            for path, shape in bad_channels:
                problems.append(
                    f"{path}: shape {shape} (width, height, channels) is not a 2D picture with 1 (grey), 2 (grey + "
                    "alpha), 3 (RGB) or 4 (RGBA) channels"
                )
            if bad_channels:
                continue
            if image_shape[:2] != mask_shape[:2]:
                problems.append(
                    f"{item['label']}: mask of {mask_shape[0]} x {mask_shape[1]} pixels, its image {item['image']} "
                    f"{image_shape[0]} x {image_shape[1]} (width x height)"
                )
        datalist.append(item)
    if problems:
        raise DatasetError(f"{len(problems)} bad pair(s):\n  " + "\n  ".join(problems[:_MAX_LISTED]))
    return datalist


def split_png_pairs(
    datalist: Sequence[dict], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int | str = 0
) -> tuple[list[dict], ...]:
    """Training / validation / test pairs by name (seed 004 gives no split; 80/10/10 by default).

    See :func:`transforms.split_by_group`. Slices of one patient named ``<patient>_<slice>`` can be kept
    together with ``split_by_group(datalist, fractions, group_key="patient")`` after adding that key.
    """
    return split_by_group(datalist, fractions, group_key="case_id", seed=seed)


class ToGrayscaled(ReportsLastFailure, MapTransform):
    """Reduce channel-first colour images (C = 3 or 4: RGB, RGBA) to one channel; one channel passes as is.

    Args:
        keys: keys of channel-first arrays (C, H, W).
        mode: per key or one for all: ``"luma"`` (ITU-R 601: 0.299 R + 0.587 G + 0.114 B; for images),
            ``"max"`` (the largest of R, G, B; for masks: any lit channel is foreground, values kept exactly),
            ``"first"`` (the red channel).
        allow_missing_keys: skip absent keys.

    Raises:
        DatasetError: (when called) a channel count other than 1, 2 (grey + alpha), 3 or 4; names the file.
    """

    _MODES = ("luma", "max", "first")

    def __init__(self, keys: KeysCollection, mode: str | Sequence[str] = "luma", allow_missing_keys: bool = False):
        super().__init__(keys, allow_missing_keys)
        modes = (mode,) * len(self.keys) if isinstance(mode, str) else tuple(mode)
        if len(modes) != len(self.keys) or any(m not in self._MODES for m in modes):
            raise ValueError(f"mode must be one of {self._MODES} or one per key, got {mode!r}.")
        self.mode = modes

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={self.keys}, mode={self.mode})"

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        self._clear_failure()
        d = dict(data)
        try:
            for key, mode in self.key_iterator(d, self.mode):
                img = d[key]
                channels = int(img.shape[0])
                if channels == 1:
                    continue
                if channels == 2:  # grey + alpha
                    d[key] = img[:1]
                    continue
                if channels not in (3, 4):
                    raise DatasetError(
                        f"{_source_of(d, key)}: {key!r} has {channels} channels (shape {tuple(img.shape)}); "
                        "expected 1 (grey), 3 (RGB) or 4 (RGBA)."
                    )
                rgb = img[:3]
                if mode == "first":
                    d[key] = rgb[:1]
                elif mode == "max":
                    d[key] = rgb.max(dim=0, keepdim=True).values if isinstance(rgb, torch.Tensor) else rgb.max(0)[None]
                else:
                    weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32)
                    weights = weights.reshape(3, *([1] * (rgb.ndim - 1)))
                    rgb_t = rgb if isinstance(rgb, torch.Tensor) else torch.as_tensor(rgb)
                    d[key] = (rgb_t.float() * weights.to(rgb_t.device)).sum(dim=0, keepdim=True)
        except DatasetError as err:
            self._record_failure(str(err))
            raise
        return d
