"""The Medical Segmentation Decathlon format (any task): ``dataset.json`` beside ``imagesTr/``, ``labelsTr/``,
``imagesTs/`` of NIfTI volumes (or the other volume formats :class:`~transforms.LoadVolumed` reads)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from data.problems import IntegrityReport
from formats.msd.checks import check_msd_case
from formats.msd.discovery import discover_msd
from formats.registry import FORMATS, DataFormat, DatasetSpec

__all__ = ["MsdFormat"]


@FORMATS.register
class MsdFormat(DataFormat):
    """An MSD task folder (``Task01_BrainTumour/``, ``Task04_Hippocampus/``, ...).

    Discovery options (:func:`~formats.msd.discovery.discover_msd`): ``num_channels``, ``labels`` (what the
    bundle expects), ``sections``, ``check_files``. Synthetic twin: a Task01-like brain-tumour data set
    (:func:`~formats.msd.synthetic.generate_msd_task01`: ``num_training``, ``num_test``, ``spatial_size``,
    ``seed``, ``overwrite``).
    """

    name = "msd"
    description = "MSD task folder: dataset.json, imagesTr/, labelsTr/, imagesTs/"
    slice_store = ("bundles/unet/configs/train.yaml", "bundles/unet/configs/slice_store.yaml")

    def detect(self, root: Path) -> bool:
        """dataset.json beside imagesTr/, and not nnU-Net v2's (whose dataset.json has ``channel_names`` and
        ``file_ending`` instead of ``modality`` and a ``training`` list); an unreadable dataset.json is claimed, so
        that discovery names what is wrong with it."""
        if not ((root / "dataset.json").is_file() and (root / "imagesTr").is_dir()):
            return False
        try:
            meta = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return True
        nnunet = isinstance(meta, dict) and "file_ending" in meta and "channel_names" in meta
        return not nnunet or "modality" in meta or isinstance(meta.get("training"), list)

    def discover(self, root: Path, report: IntegrityReport, **options: Any) -> DatasetSpec | None:
        return discover_msd(root, report, **options)

    def check_case(self, case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
        check_msd_case(case, spec, report)

    def add_check_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--num_channels", type=int, help="image channels (default: the modalities of dataset.json)")
        parser.add_argument("--labels", type=int, nargs="+", help="label values (default: the labels of dataset.json)")
        parser.add_argument("--sections", nargs="+", default=["training", "test"], help="dataset.json lists to check")

    def add_synthetic_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--num_training", type=int, default=24, help="labelled cases (imagesTr + labelsTr)")
        parser.add_argument("--num_test", type=int, default=4, help="unlabelled cases (imagesTs)")
        parser.add_argument(
            "--spatial_size", type=int, nargs=3, default=(64, 64, 32), metavar=("X", "Y", "Z"),
            help="voxels per case; 240 240 155 is the real size",
        )  # fmt: skip
        parser.add_argument("--seed", type=int, default=0, help="same seed, same voxels")

    def synthesize(self, out_dir: str | os.PathLike, **options: Any) -> Path:
        from formats.msd.synthetic import generate_msd_task01

        return generate_msd_task01(out_dir, **options)
