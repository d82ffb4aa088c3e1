"""The BraTS2020 format: one folder per case holding ``<case>_flair``, ``_t1``, ``_t1ce``, ``_t2`` and ``_seg``
volumes (NIfTI, or the other volume formats :class:`~transforms.LoadVolumed` reads), ``name_mapping.csv`` beside
them."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from data.problems import IntegrityReport
from formats.brats2020.checks import check_brats_case
from formats.brats2020.discovery import BRATS_LABELS, BRATS_MODALITIES, discover_brats, volume_named
from formats.registry import FORMATS, DataFormat, DatasetSpec

__all__ = ["Brats2020Format"]


@FORMATS.register
class Brats2020Format(DataFormat):
    """A BraTS2020 release folder (``MICCAI_BraTS2020_TrainingData/``).

    Discovery options (:func:`~formats.brats2020.discovery.discover_brats`): ``modalities``, ``with_label``,
    ``labels``, ``expected_cases``, ``check_headers``. Synthetic twin:
    :func:`~formats.brats2020.synthetic.generate_brats2020` (``num_cases``, ``spatial_size``, ``seed``, ``split``,
    ``suffix``, ``overwrite``).
    """

    name = "brats2020"
    description = "BraTS2020 folder of BraTS20_Training_NNN/ case folders (flair, t1, t1ce, t2, seg volumes)"
    slice_store = ("bundles/brats_unet/configs/train.yaml", "bundles/brats_unet/configs/slice_store.yaml")

    def detect(self, root: Path) -> bool:
        return any(
            any(volume_named(folder, folder.name, m) for m in BRATS_MODALITIES)
            for folder in root.iterdir()
            if folder.is_dir() and not folder.name.startswith(".")
        )

    def discover(self, root: Path, report: IntegrityReport, **options: Any) -> DatasetSpec | None:
        return discover_brats(root, report, **options)

    def check_case(self, case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
        check_brats_case(case, spec, report)

    def add_check_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--modalities", nargs="+", default=list(BRATS_MODALITIES), choices=BRATS_MODALITIES)
        parser.add_argument("--labels", type=int, nargs="+", default=list(BRATS_LABELS))
        parser.add_argument("--no_label", dest="with_label", action="store_false", help="validation release: no _seg")
        parser.add_argument("--expected_cases", type=int, help="number of cases there should be (369)")

    def add_synthetic_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--num_cases", type=int, default=12, help="case folders (369 in the real release)")
        parser.add_argument(
            "--spatial_size", type=int, nargs=3, default=(64, 64, 40), metavar=("X", "Y", "Z"),
            help="voxels per volume; 240 240 155 is the real size",
        )  # fmt: skip
        parser.add_argument("--seed", type=int, default=0, help="same seed, same voxels")
        parser.add_argument(
            "--split", choices=("Training", "Validation"), default="Training", help="Validation: no _seg"
        )
        parser.add_argument("--suffix", choices=(".nii.gz", ".nii"), default=".nii.gz", help="file suffix")

    def synthesize(self, out_dir: str | os.PathLike, **options: Any) -> Path:
        from formats.brats2020.synthetic import generate_brats2020

        return generate_brats2020(out_dir, **options)
