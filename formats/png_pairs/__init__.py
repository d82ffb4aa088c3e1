"""The PNG-pairs format: images and masks in two folders matched by name (``images/000.png`` with
``masks/000.png``; or one folder with a mask suffix), in any picture format MONAI's ``LoadImage`` reads."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from data.problems import IntegrityReport
from formats.png_pairs.checks import check_png_pair
from formats.png_pairs.discovery import discover_png_pairs
from formats.registry import FORMATS, DataFormat, DatasetSpec

__all__ = ["PngPairsFormat"]


@FORMATS.register
class PngPairsFormat(DataFormat):
    """Image/mask pairs (seed 004: Liver, Cell).

    Discovery options (:func:`~formats.png_pairs.discovery.discover_png_pairs`): ``images_subdir``,
    ``masks_subdir``, ``mask_suffix``, ``image_suffix``, ``suffixes``, ``labels``, ``check_sizes``. Synthetic
    twin: :func:`~formats.png_pairs.synthetic.generate_png_pairs` (``kind``, ``num_images``, ``size``, ``seed``,
    ``images_dir``, ``masks_dir``, ``mask_suffix``, ``overwrite``).
    """

    name = "png_pairs"
    description = "image/mask pairs matched by name: images/NNN.png with masks/NNN.png"

    def detect(self, root: Path) -> bool:
        return (root / "images").is_dir() and (root / "masks").is_dir()

    def discover(self, root: Path, report: IntegrityReport, **options: Any) -> DatasetSpec | None:
        return discover_png_pairs(root, report, **options)

    def check_case(self, case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
        check_png_pair(case, spec, report)

    def load_transforms(self, spec: DatasetSpec) -> list[Callable]:
        from monai.transforms import EnsureChannelFirstd

        from formats.png_pairs.readers import ToGrayscaled
        from transforms.io import LoadVolumed

        keys = ["image", "label"]
        return [
            LoadVolumed(keys=keys, allow_missing_keys=True),
            EnsureChannelFirstd(keys=keys, allow_missing_keys=True),
            ToGrayscaled(keys=keys, mode=["luma", "max"], allow_missing_keys=True),
        ]

    def add_check_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--images_subdir", default="images")
        parser.add_argument("--masks_subdir", default="masks")
        parser.add_argument("--mask_suffix", default="", help="e.g. _mask for 000_mask.png")
        parser.add_argument("--image_suffix", default="")
        parser.add_argument("--labels", type=float, nargs="+", default=[0, 255], help="mask values (0 255, or 0 1)")

    def add_synthetic_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--kind", choices=("liver", "cell"), default="liver", help="which seed 004 data set")
        parser.add_argument("--num_images", type=int, default=20, help="pairs (Liver 400, Cell 30 in seed 004)")
        parser.add_argument("--size", type=int, default=512, help="image side in pixels")
        parser.add_argument("--seed", type=int, default=0, help="same seed, same pixels")
        parser.add_argument("--images_dir", default="images", help="sub-folder of the images")
        parser.add_argument("--masks_dir", default="masks", help="sub-folder of the masks")
        parser.add_argument("--mask_suffix", default="", help="appended to mask names, e.g. _mask")

    def synthesize(self, out_dir: str | os.PathLike, **options: Any) -> Path:
        from formats.png_pairs.synthetic import generate_png_pairs

        return generate_png_pairs(out_dir, **options)
