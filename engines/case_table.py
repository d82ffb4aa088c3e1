"""One CSV row per case with named columns, from the per-case details of an evaluator's metrics."""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events

__all__ = ["CaseTableWriter"]


class CaseTableWriter:
    """Evaluator handler: write ``path`` with one row per case and one named column per metric value.

    MONAI's ``MetricsSaver`` writes one ``<metric>_raw.csv`` per metric with columns ``class0, class1, ...``; this
    table puts the metrics of a case side by side under names, e.g. ``dice_ET`` or ``hd95_WT``. Values are taken
    from ``engine.state.metric_details`` (metric handlers with ``save_details=True``), an ``(N, K)`` array per
    metric for N cases; ``columns`` names its K columns. NaN (e.g. HD95 of an empty region) is written as ``nan``.

    Args:
        path: CSV file to write (its folder is created).
        columns: ``{metric name: [column name per value]}``, in the order of the table.
        id_key: key of each decollated batch item naming the case (e.g. ``case_id``); items without it are named
            by their image's ``filename_or_obj``.
        image_key: key of the image whose metadata names a case without ``id_key``.

    Raises:
        KeyError: (at the end of the run) a metric of ``columns`` has no per-case details.
        ValueError: a metric's number of values differs from its number of column names.
    """

    def __init__(
        self, path: str, columns: Mapping[str, Sequence[str]], id_key: str = "case_id", image_key: str = "image"
    ) -> None:
        if not columns:
            raise ValueError("columns must name at least one metric.")
        self.path = Path(path)
        self.columns = {str(k): [str(c) for c in v] for k, v in columns.items()}
        self.id_key, self.image_key = id_key, image_key
        self._ids: list[str] = []
        self.logger = logging.getLogger(__name__)

    def attach(self, engine: Engine) -> None:
        """Register with an evaluator ``engine``."""
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._write)

    def _reset(self, engine: Engine) -> None:
        self._ids = []

    def _collect(self, engine: Engine) -> None:
        batch = engine.state.batch
        items = batch if isinstance(batch, (list, tuple)) else [batch]
        for item in items:
            name = item.get(self.id_key)
            if name is None:
                meta = getattr(item.get(self.image_key), "meta", None) or {}
                name = meta.get("filename_or_obj", f"case{len(self._ids)}")
            self._ids.append(str(name))

    def _write(self, engine: Engine) -> None:
        details = getattr(engine.state, "metric_details", {}) or {}
        header, blocks = ["case"], []
        for metric, names in self.columns.items():
            if metric not in details:
                raise KeyError(f"{self.path}: no per-case details of metric {metric!r}; have {sorted(details)}.")
            values = details[metric]
            values = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
            values = values.reshape(len(values), -1)
            if values.shape[1] != len(names):
                raise ValueError(f"{self.path}: metric {metric!r} has {values.shape[1]} values per case, columns {names}.")
            header += names
            blocks.append(values)
        table = np.concatenate(blocks, axis=1)
        if len(table) != len(self._ids):
            raise ValueError(f"{self.path}: {len(table)} rows of metrics for {len(self._ids)} cases.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for case, row in zip(self._ids, table):
                writer.writerow([case, *(f"{v:.6g}" for v in row)])
        self.logger.info(f"per-case table: {self.path}")
