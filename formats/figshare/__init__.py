"""The Figshare brain-tumour format: ``1.mat`` ... ``3064.mat`` (MATLAB v7.3 holding ``cjdata.image``,
``cjdata.tumorMask``, ``cjdata.label``, ``cjdata.PID``), possibly in sub-folders."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from data.problems import IntegrityReport
from formats.figshare.checks import check_figshare_case
from formats.figshare.discovery import discover_figshare
from formats.registry import FORMATS, DataFormat, DatasetSpec

__all__ = ["FigshareFormat"]


@FORMATS.register
class FigshareFormat(DataFormat):
    """The Figshare data set of Cheng et al. (one 2D slice per ``.mat`` file, split by patient).

    Discovery options (:func:`~formats.figshare.discovery.discover_figshare`): ``recursive``,
    ``expected_cases``. Synthetic twin: :func:`~formats.figshare.synthetic.generate_figshare` (``num_images``,
    ``num_patients``, ``size``, ``seed``, ``files_per_folder``, ``overwrite``).
    """

    name = "figshare"
    description = "Figshare brain-tumour .mat files (MATLAB v7.3): 1.mat ... 3064.mat"

    def detect(self, root: Path) -> bool:
        return any(p.name != "cvind.mat" for p in root.rglob("*.mat"))

    def discover(self, root: Path, report: IntegrityReport, **options: Any) -> DatasetSpec | None:
        return discover_figshare(root, report, **options)

    def check_case(self, case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
        check_figshare_case(case, spec, report)

    def load_transforms(self, spec: DatasetSpec) -> list[Callable]:
        from monai.transforms import EnsureChannelFirstd

        from formats.figshare.readers import MatV73Reader
        from transforms.io import LoadVolumed

        return [
            LoadVolumed(keys="image", reader=MatV73Reader(field="cjdata/image")),
            LoadVolumed(keys="label", reader=MatV73Reader(field="cjdata/tumorMask"), allow_missing_keys=True),
            EnsureChannelFirstd(keys=["image", "label"], allow_missing_keys=True),
        ]

    def add_check_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--expected_cases", type=int, help="number of .mat files there should be (3064)")

    def add_synthetic_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--num_images", type=int, default=48, help=".mat files (3064 in the release)")
        parser.add_argument("--num_patients", type=int, default=8, help="patients (233 in the release)")
        parser.add_argument("--size", type=int, default=512, help="image side (512 in the release)")
        parser.add_argument("--seed", type=int, default=0, help="same seed, same pixels")
        parser.add_argument(
            "--files_per_folder", type=int, default=766, help="files per brainTumorDataPublic_a-b folder"
        )

    def synthesize(self, out_dir: str | os.PathLike, **options: Any) -> Path:
        from formats.figshare.synthetic import generate_figshare

        return generate_figshare(out_dir, **options)
