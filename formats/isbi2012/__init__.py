"""The ISBI 2012 EM format: multi-page TIFF stacks (``train-volume.tif``, ``train-labels.tif``,
``test-volume.tif``; or 3D NIfTI/NRRD/MHA stacks with the pages last), one case per page."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from data.problems import IntegrityReport
from formats.isbi2012.checks import check_isbi_page
from formats.isbi2012.discovery import ISBI_LABELS, discover_isbi
from formats.registry import FORMATS, DataFormat, DatasetSpec

__all__ = ["Isbi2012Format"]


@FORMATS.register
class Isbi2012Format(DataFormat):
    """The ISBI 2012 challenge's stacks.

    Discovery options (:func:`~formats.isbi2012.discovery.discover_isbi`): ``image_file``, ``label_file``,
    ``test_file``, ``num_pages``, ``page_shape``, ``labels``. Synthetic twin:
    :func:`~formats.isbi2012.synthetic.generate_isbi2012` (``num_pages``, ``size``, ``seed``, ``with_test``,
    ``overwrite``).
    """

    name = "isbi2012"
    description = "ISBI 2012 EM stacks: train-volume.tif, train-labels.tif (test-volume.tif)"

    def detect(self, root: Path) -> bool:
        return (root / "train-volume.tif").is_file()

    def discover(self, root: Path, report: IntegrityReport, **options: Any) -> DatasetSpec | None:
        return discover_isbi(root, report, **options)

    def check_case(self, case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
        check_isbi_page(case, spec, report)

    def load_transforms(self, spec: DatasetSpec) -> list[Callable]:
        from formats.isbi2012.readers import LoadTiffPaged

        return [LoadTiffPaged(keys=["image", "label"], allow_missing_keys=True)]

    def add_check_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--image_file", default="train-volume.tif")
        parser.add_argument("--label_file", default="train-labels.tif")
        parser.add_argument("--test_file", default="test-volume.tif", help="checked when present")
        parser.add_argument("--num_pages", type=int, help="expected pages per stack (30)")
        parser.add_argument(
            "--page_shape", type=int, nargs=2, metavar=("ROWS", "COLS"), help="expected page size (512 512)"
        )
        parser.add_argument("--labels", type=float, nargs="+", default=list(ISBI_LABELS))

    def add_synthetic_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--num_pages", type=int, default=30, help="pages per stack (30 in the challenge)")
        parser.add_argument("--size", type=int, default=512, help="page side in pixels (512 in the challenge)")
        parser.add_argument("--seed", type=int, default=0, help="same seed, same pixels")
        parser.add_argument("--no_test", dest="with_test", action="store_false", help="do not write test-volume.tif")

    def synthesize(self, out_dir: str | os.PathLike, **options: Any) -> Path:
        from formats.isbi2012.synthetic import generate_isbi2012

        return generate_isbi2012(out_dir, **options)
