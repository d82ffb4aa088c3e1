"""Inference outputs of the generic path: one label map per case in its input's geometry with the data set's label
values, and a per-case table of each label's voxel count and volume (TotalSegmentator's ``--statistics``)."""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.data.utils import to_affine_nd

__all__ = ["PredictionWriter", "to_label_values"]


def to_label_values(pred: torch.Tensor, plan: Mapping) -> np.ndarray:
    """A post-processed prediction -> the label map written to disk, with the values of ``dataset.json``.

    Args:
        pred: classes: ``(1, *spatial)`` training indices; regions: ``(R, *spatial)`` binary channels.
        plan: the run's plan (``label_values``; for regions ``regions_class_order``: the value each region is
            written as, later regions over earlier ones, as nnU-Net does).

    Returns:
        ``(*spatial)`` integer array.
    """
    pred = torch.as_tensor(pred).detach().cpu()
    if plan.get("region_based"):
        order = [int(v) for v in plan["regions_class_order"]]
        out = np.zeros(pred.shape[1:], dtype=np.int32)
        for r, value in enumerate(order):
            out[pred[r].numpy() > 0.5] = value
        return out
    index = pred[0].numpy().round().astype(np.int64)
    values = plan.get("label_values") or list(range(int(plan["out_channels"])))
    return np.asarray([int(v) for v in values], dtype=np.int32)[index]


class PredictionWriter:
    """Evaluator handler: write each case's prediction as ``<output_dir>/<case_id>.nii.gz`` (NIfTI for every input by
    default, 2D ones too; the affine and the shape are the input's, put back by ``Invertd`` in the post-processing) and, at
    the end, ``<output_dir>/volumes.csv``: one row per case, ``<label>_voxels`` and ``<label>_ml`` (2D inputs:
    ``<label>_mm2``) of every non-background label of the plan.

    Args:
        output_dir: folder of the predictions and the table.
        plan: the run's plan (label values, names, regions).
        pred_key: key of the decollated outputs holding the post-processed prediction.
        id_key: key of the batch items naming the case.
        file_ending: ``".nii.gz"`` (every input), or ``"input"``: the file format, header and geometry of the case's
            first channel file (``meta["filename_or_obj"]``; PNG, TIFF, NRRD, MHA or NIfTI, as nnU-Net writes
            ``{case}{file_ending}``; :func:`formats.nnunet_v2.writers.write_label_like`).
    """

    def __init__(
        self, output_dir: str, plan: Mapping, pred_key: str = "pred", id_key: str = "case_id", file_ending: str = ".nii.gz"
    ) -> None:
        if file_ending not in ("input", ".nii.gz", ".nii"):
            raise ValueError(f"file_ending must be '.nii.gz', '.nii' or 'input' (the input's format), got {file_ending!r}.")
        self.file_ending = str(file_ending)
        self.output_dir = Path(output_dir)
        self.plan = dict(plan)
        self.pred_key, self.id_key = pred_key, id_key
        if self.plan.get("region_based"):
            self.labels = [(str(n), int(v)) for n, v in zip(self.plan["class_names"], self.plan["regions_class_order"])]
        else:
            values = self.plan.get("label_values") or list(range(int(self.plan["out_channels"])))
            self.labels = [(str(n), int(v)) for n, v in zip(self.plan["class_names"], values) if int(v) != 0]
        self.rows: list[list] = []
        self.paths: list[Path] = []
        self._dims = 3
        self.logger = logging.getLogger(__name__)

    def attach(self, engine: Engine) -> None:
        """Register with an evaluator ``engine``."""
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._write_cases)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._write_table)

    def _reset(self, engine: Engine) -> None:
        self.rows, self.paths = [], []

    def _case_id(self, item: Mapping, source: Mapping, index: int) -> str:
        case = source.get(self.id_key) if isinstance(source, Mapping) else None
        if case is None:
            name = Path(str(getattr(item[self.pred_key], "meta", {}).get("filename_or_obj", f"case{index}"))).name
            case = name.split(".")[0]
        return str(case)

    def _write_cases(self, engine: Engine) -> None:
        outputs = engine.state.output if isinstance(engine.state.output, list) else [engine.state.output]
        batch = engine.state.batch if isinstance(engine.state.batch, list) else [engine.state.batch]
        for i, item in enumerate(outputs):
            pred = item[self.pred_key]
            case = self._case_id(item, batch[i] if i < len(batch) else {}, len(self.rows))
            labels = to_label_values(pred, self.plan)
            meta = dict(pred.meta) if hasattr(pred, "meta") else {}
            affine = torch.as_tensor(meta.get("affine", torch.eye(labels.ndim + 1)), dtype=torch.float64)
            self.output_dir.mkdir(parents=True, exist_ok=True)
            if self.file_ending == "input":
                from formats.nnunet_v2.writers import write_label_like

                reference = str(meta.get("filename_or_obj", ""))
                ending = ".nii.gz" if reference.lower().endswith(".nii.gz") else Path(reference).suffix
                path = write_label_like(labels, reference, self.output_dir / f"{case}{ending}")
            else:
                path = self.output_dir / f"{case}{self.file_ending}"
                dtype = np.uint8 if labels.max(initial=0) < 256 else np.uint16
                nib.save(nib.Nifti1Image(labels.astype(dtype), to_affine_nd(3, affine).numpy()), str(path))
            self.paths.append(path)
            dims = self._dims = labels.ndim
            voxel = float(abs(np.linalg.det(affine[:dims, :dims].numpy())))
            row = [case]
            for _, value in self.labels:
                count = int((labels == value).sum())
                row += [count, count * voxel / (1000.0 if dims == 3 else 1.0)]
            self.rows.append(row)
            self.logger.info(f"prediction of {case}: {path}")

    def _write_table(self, engine: Engine) -> None:
        if not self.rows:
            return
        unit = "ml" if self._dims == 3 else "mm2"
        header = ["case"] + [c for name, _ in self.labels for c in (f"{name}_voxels", f"{name}_{unit}")]
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / "volumes.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in self.rows:
                writer.writerow([row[0], *(v if isinstance(v, int) else f"{v:.6g}" for v in row[1:])])
        self.logger.info(f"label volumes per case: {path}")
