"""nnU-Net v2 raw data sets as a format plug-in: ``DatasetXXX_Name/{imagesTr,labelsTr,imagesTs}``, one file per
channel ``{case}_{XXXX}{file_ending}``, ``dataset.json`` with ``channel_names``, ``labels`` (region labels as lists
of values with ``regions_class_order``), ``numTraining``, ``file_ending``; NIfTI, NRRD, MHA, and 2D PNG / TIFF."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from data.problems import IntegrityReport
from formats.nnunet_v2.checks import check_nnunet_v2_case
from formats.nnunet_v2.discovery import discover_nnunet_v2
from formats.nnunet_v2.readers import LoadNnUNetCased, read_channel_file
from formats.nnunet_v2.writers import write_label_like
from formats.registry import FORMATS, DataFormat, DatasetSpec

__all__ = ["LoadNnUNetCased", "NnUNetV2Format", "read_channel_file", "write_label_like"]


@FORMATS.register
class NnUNetV2Format(DataFormat):
    """The nnU-Net v2 raw layout (see :mod:`formats.nnunet_v2.discovery` for the rules checked)."""

    name = "nnunet_v2"
    description = "nnU-Net v2 raw: DatasetXXX_Name/{imagesTr,labelsTr,imagesTs}/{case}_{XXXX}.ext + dataset.json"

    def detect(self, root: Path) -> bool:
        """dataset.json with nnU-Net v2's ``channel_names`` and ``file_ending``, and an ``imagesTr`` folder (or
        dataset.json's own ``dataset`` file list)."""
        js = Path(root) / "dataset.json"
        if not js.is_file():
            return False
        try:
            meta = json.loads(js.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return False
        if not isinstance(meta, dict) or "file_ending" not in meta or "channel_names" not in meta:
            return False
        return (Path(root) / "imagesTr").is_dir() or isinstance(meta.get("dataset"), dict)

    def discover(self, root: Path, report: IntegrityReport) -> DatasetSpec | None:
        return discover_nnunet_v2(Path(root), report)

    def check_case(self, case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
        check_nnunet_v2_case(case, spec, report)

    def load_transforms(self, spec: DatasetSpec) -> list[Callable]:
        """One transform: :class:`LoadNnUNetCased` (``image`` (C, *spatial), ``label`` (1, *spatial))."""
        return [LoadNnUNetCased(keys=("image", "label"), allow_missing_keys=True)]

    def synthesize(self, out_dir: str | os.PathLike, **options: Any) -> Path:
        """:func:`~formats.nnunet_v2.synthetic.generate_nnunet_v2` (options: kind, num_training, num_test,
        spatial_size, seed)."""
        from formats.nnunet_v2.synthetic import generate_nnunet_v2

        return generate_nnunet_v2(out_dir, **options)
