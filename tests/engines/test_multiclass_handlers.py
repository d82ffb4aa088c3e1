"""The multi-class evaluation handlers: per-case table with named columns (pictures: tests/engines/overlay)."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import pytest
import torch

from engines import CaseTableWriter


def _engine(details: dict):
    return SimpleNamespace(state=SimpleNamespace(metric_details=details, batch=None))


def test_case_table_writes_named_columns(tmp_path):
    writer = CaseTableWriter(tmp_path / "out" / "per_case.csv", {"dice": ["a", "b"], "acc": ["accuracy"]})
    engine = _engine({"dice": torch.tensor([[0.5, float("nan")], [1.0, 0.25]]), "acc": torch.tensor([[0.9], [0.8]])})
    writer._reset(engine)
    for case in ("case1", "case2"):
        engine.state.batch = [{"case_id": case}]
        writer._collect(engine)
    writer._write(engine)
    rows = list(csv.reader((tmp_path / "out" / "per_case.csv").read_text().splitlines()))
    assert rows == [["case", "a", "b", "accuracy"], ["case1", "0.5", "nan", "0.9"], ["case2", "1", "0.25", "0.8"]]


def test_case_table_errors_name_the_file_and_metric(tmp_path):
    path = tmp_path / "per_case.csv"
    engine = _engine({"dice": torch.zeros(1, 3)})
    engine.state.batch = [{"case_id": "c"}]
    writer = CaseTableWriter(path, {"dice": ["a", "b"]})
    writer._collect(engine)
    with pytest.raises(ValueError, match="per_case.csv: metric 'dice' has 3 values"):
        writer._write(engine)
    with pytest.raises(KeyError, match="hd95"):
        CaseTableWriter(path, {"hd95": ["x"]})._write(engine)
