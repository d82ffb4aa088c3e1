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

from collections.abc import Sequence
from pathlib import Path

from data.errors import DatasetError
from data.headers import image_suffix as _file_suffix
from data.headers import read_image_shape
from data.problems import IntegrityReport
from formats.registry import DatasetSpec

__all__ = ["PICTURE_CHANNELS", "PNG_PAIR_SUFFIXES", "discover_png_pairs", "scan_pictures"]

PNG_PAIR_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".nii", ".nii.gz", ".nrrd", ".mha")
PICTURE_CHANNELS = (1, 2, 3, 4)  # grey, grey + alpha, RGB, RGBA: what ToGrayscaled reduces


def scan_pictures(
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


def discover_png_pairs(
    root: Path,
    report: IntegrityReport,
    images_subdir: str = "images",
    masks_subdir: str = "masks",
    mask_suffix: str = "",
    image_suffix: str = "",
    suffixes: Sequence[str] = PNG_PAIR_SUFFIXES,
    labels: Sequence[float] = (0, 255),
    check_sizes: bool = True,
) -> DatasetSpec | None:
    """Image/mask pairs matched by file name (extension and the given suffixes ignored), every problem recorded.

    Recorded problems: a folder missing; images and masks in one folder without a ``mask_suffix``; no image; two
    files for one name; every image without a mask and every mask without an image; from the headers (Pillow,
    nibabel, ITK; no pixel data): a picture with another number of channels than 1-4, image and mask sizes that
    differ.

    Args:
        root: the data set folder (absolute).
        report: where the problems go.
        images_subdir: images folder, relative to ``root``.
        masks_subdir: masks folder (the images folder itself when masks are told apart by ``mask_suffix``).
        mask_suffix: end of a mask's name before the extension (``"_mask"`` for ``000_mask.png``).
        image_suffix: end of an image's name before the extension (rarely needed).
        suffixes: file extensions taken as pictures (others, e.g. ``Thumbs.db``, are ignored).
        labels: mask values (0 and 255; masks saved as 0/1 need ``[0, 1]``), checked when masks are decoded.
        check_sizes: read every header and check channels and sizes.

    Returns:
        The spec: ``{"image": path, "label": path, "case_id": name}`` per good pair, sorted by name; None when a
        folder is missing.
    """
    images_root = (root / images_subdir).absolute()
    masks_root = (root / masks_subdir).absolute()
    missing = [folder for folder in dict.fromkeys([images_root, masks_root]) if not folder.is_dir()]
    for folder in missing:
        report.error(folder, "not a folder (expected the images and masks folders)")
    if missing:
        return None
    same = images_root == masks_root
    if same and not mask_suffix:
        report.error(images_root, "images and masks in one folder need a mask_suffix (e.g. '_mask')")
        return None
    images, image_twins = scan_pictures(images_root, image_suffix, suffixes, exclude_suffix=mask_suffix if same else "")
    masks, mask_twins = scan_pictures(masks_root, mask_suffix, suffixes)
    for first, second in image_twins + mask_twins:
        report.error(second, f"several files for one name: {first.name} and {second.name} (which one is meant?)")
    if not images:
        report.error(images_root, f"no image file (suffixes {list(suffixes)})")
    for name in sorted(set(images) - set(masks)):
        report.error(images[name], f"image without a mask: no {name}{mask_suffix}.<ext> in {masks_root}")
    for name in sorted(set(masks) - set(images)):
        report.error(masks[name], f"mask without an image: no {name}{image_suffix}.<ext> in {images_root}")
    datalist = []
    for name in sorted(set(images) & set(masks)):
        item = {"image": str(images[name]), "label": str(masks[name]), "case_id": name}
        if check_sizes:
            shapes = {}
            for key in ("image", "label"):
                try:
                    shapes[key] = read_image_shape(item[key])
                except DatasetError as err:
                    report.record(item[key], err)
                    continue
                shape = shapes[key]
                if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in PICTURE_CHANNELS):
                    report.error(
                        item[key],
                        f"shape {shape} (width, height, channels) is not a 2D picture with 1 (grey), 2 (grey + "
                        "alpha), 3 (RGB) or 4 (RGBA) channels",
                    )
                    del shapes[key]
            if len(shapes) < 2:
                continue
            if shapes["image"][:2] != shapes["label"][:2]:
                report.error(
                    item["label"],
                    f"mask of {shapes['label'][0]} x {shapes['label'][1]} pixels, its image {item['image']} "
                    f"{shapes['image'][0]} x {shapes['image'][1]} (width x height)",
                )
                continue
        datalist.append(item)
    report.num_cases = len(datalist)
    values = [int(v) for v in labels]
    return DatasetSpec(
        format="png_pairs",
        root=root,
        name=root.name,
        channel_names=["image"],
        labels={"background": 0, "foreground": 1},
        training=datalist,
        spatial_dims=2,
        label_values=values,
        extra={"label_values": values, "images_dir": str(images_root), "masks_dir": str(masks_root)},
    )
