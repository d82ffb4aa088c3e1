"""Per-class Dice, IoU and HD95 (mm, from the real spacing) of every case, and their means, as CSV."""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.metrics import compute_hausdorff_distance

__all__ = ["CaseMetricsWriter", "case_class_metrics", "spacing_of"]


def spacing_of(x) -> list[float]:
    """Voxel size in mm along each spatial axis of a MetaTensor ``x`` ``(C, *spatial)``: column norms of its affine
    (1 mm when ``x`` has no affine)."""
    dims = x.ndim - 1
    affine = getattr(x, "affine", None)
    if affine is None:
        return [1.0] * dims
    affine = torch.as_tensor(affine, dtype=torch.float64)
    return [float(v) for v in torch.linalg.norm(affine[:dims, :dims], dim=0)]


def case_class_metrics(pred: torch.Tensor, label: torch.Tensor, spacing: Sequence[float]) -> dict[str, np.ndarray]:
    """Dice, IoU and HD95 of every channel of one case.

    Args:
        pred: ``(K, *spatial)`` binary prediction (one-hot classes or regions).
        label: ``(K, *spatial)`` binary ground truth.
        spacing: voxel size in mm per spatial axis (HD95 in mm).

    Returns:
        ``{"dice": (K,), "iou": (K,), "hd95": (K,)}``; NaN where prediction and truth are both empty (Dice, IoU) or
        either is empty (HD95: no surface to measure).
    """
    p, g = torch.as_tensor(pred).float() > 0.5, torch.as_tensor(label).float() > 0.5
    axes = tuple(range(1, p.ndim))
    inter = (p & g).sum(axes).double()
    ps, gs = p.sum(axes).double(), g.sum(axes).double()
    union = ps + gs - inter
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    dice = torch.where(ps + gs > 0, 2 * inter / (ps + gs).clamp(min=1), nan)
    iou = torch.where(union > 0, inter / union.clamp(min=1), nan)
    hd = torch.full_like(dice, float("nan"))
    both = ((ps > 0) & (gs > 0)).nonzero().flatten()
    if len(both):  # only where both have a surface (else MONAI warns and returns inf / nan)
        hd[both] = compute_hausdorff_distance(
            p[both][None].float(), g[both][None].float(), include_background=True, percentile=95, spacing=list(spacing)
        )[0].double()
    return {"dice": dice.numpy(), "iou": iou.numpy(), "hd95": hd.numpy()}


class CaseMetricsWriter:
    """Evaluator handler: per-class Dice, IoU and HD95 of every case to ``<output_dir>/case_metrics.csv`` (one row
    per case, columns ``dice_<class>``, ``iou_<class>``, ``hd95_<class>``, then their mean over the classes) and
    the mean over cases to ``<output_dir>/mean_metrics.csv`` (one row per class and ``mean``); the means over cases
    and classes also go to ``engine.state.metrics`` (``mean_dice``, ``mean_iou``, ``mean_hd95``).

    The prediction and the label of the decollated outputs are one-hot ``(K, *spatial)`` (softmax classes:
    background first, skipped with ``skip_first``; regions: one channel each). HD95 is in mm, the spacing read
    from the image's affine (the pre-processed case: the plan's spacing, real millimetres).

    Args:
        output_dir: folder of the two CSV files.
        class_names: one name per channel of ``pred``.
        skip_first: leave channel 0 (the background of softmax classes) out.
        pred_key, label_key, image_key: keys of the decollated outputs.
        id_key: key of the batch items naming the case.
    """

    def __init__(
        self,
        output_dir: str,
        class_names: Sequence[str],
        skip_first: bool = True,
        pred_key: str = "pred",
        label_key: str = "label",
        image_key: str = "image",
        id_key: str = "case_id",
    ) -> None:
        self.output_dir = Path(output_dir)
        self.class_names = list(class_names)[1:] if skip_first else list(class_names)
        self.skip_first = skip_first
        self.keys = (pred_key, label_key, image_key, id_key)
        self.rows: list[tuple[str, dict[str, np.ndarray]]] = []
        self.logger = logging.getLogger(__name__)

    def attach(self, engine: Engine) -> None:
        """Register with an evaluator ``engine``."""
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._write)

    def _reset(self, engine: Engine) -> None:
        self.rows = []

    def _collect(self, engine: Engine) -> None:
        pred_key, label_key, image_key, id_key = self.keys
        outputs = engine.state.output if isinstance(engine.state.output, list) else [engine.state.output]
        batch = engine.state.batch if isinstance(engine.state.batch, list) else [engine.state.batch]
        for i, item in enumerate(outputs):
            pred, label = item[pred_key], item[label_key]
            if self.skip_first:
                pred, label = pred[1:], label[1:]
            source = batch[i] if i < len(batch) else item
            case = source.get(id_key) or Path(str(item[image_key].meta.get("filename_or_obj", f"case{len(self.rows)}"))).name
            self.rows.append((str(case), case_class_metrics(pred.cpu(), label.cpu(), spacing_of(item[image_key]))))

    def _write(self, engine: Engine) -> None:
        if not self.rows:
            return
        metrics = ("dice", "iou", "hd95")
        self.output_dir.mkdir(parents=True, exist_ok=True)
        header = ["case"] + [f"{m}_{c}" for m in metrics for c in self.class_names] + [f"mean_{m}" for m in metrics]
        with (self.output_dir / "case_metrics.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for case, values in self.rows:
                cells = [v for m in metrics for v in values[m]] + [_nanmean(values[m]) for m in metrics]
                writer.writerow([case, *(_fmt(v) for v in cells)])
        table = {m: np.stack([values[m] for _, values in self.rows]) for m in metrics}  # (cases, classes)
        with (self.output_dir / "mean_metrics.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["class", *metrics, "cases"])
            for k, name in enumerate(self.class_names):
                writer.writerow([name, *(_fmt(_nanmean(table[m][:, k])) for m in metrics), len(self.rows)])
            writer.writerow(["mean", *(_fmt(_nanmean(table[m])) for m in metrics), len(self.rows)])
        for m in metrics:
            engine.state.metrics[f"mean_{m}"] = _nanmean(table[m])
        per_class = ", ".join(f"{n} {_nanmean(table['dice'][:, k]):.4f}" for k, n in enumerate(self.class_names))
        self.logger.info(
            f"per-case metrics: {self.output_dir / 'case_metrics.csv'}; mean Dice {_nanmean(table['dice']):.4f} "
            f"over {len(self.rows)} case(s) ({per_class})"
        )


def _nanmean(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(np.nanmean(x)) if np.isfinite(x).any() else math.nan


def _fmt(v: float) -> str:
    return "nan" if not math.isfinite(float(v)) else f"{float(v):.6g}"
