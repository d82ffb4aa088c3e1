"""Per-class Dice, IoU and HD95 (mm) per case, and the CSV tables of the generic path's evaluation."""

from __future__ import annotations

import csv
import math
from types import SimpleNamespace

import numpy as np
import torch
from monai.data import MetaTensor

from engines.case_metrics import CaseMetricsWriter, case_class_metrics, spacing_of


def test_metrics_of_known_masks_with_spacing_in_mm():
    g = torch.zeros(2, 10, 10)
    g[0, 2:6, 2:6] = 1  # 16 voxels
    p = torch.zeros(2, 10, 10)
    p[0, 2:6, 4:8] = 1  # 16 voxels, 8 shared
    p[1, 0, 0] = 1  # class 1: predicted, not in the truth
    m = case_class_metrics(p, g, spacing=[1.0, 2.0])
    assert m["dice"][0] == 0.5 and math.isclose(m["iou"][0], 8 / 24)
    assert m["hd95"][0] == 4.0, "columns shifted by 2 voxels of 2 mm"
    assert m["dice"][1] == 0.0 and math.isnan(m["hd95"][1]), "no truth: Dice 0, no surface distance"
    both_empty = case_class_metrics(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4), [1.0, 1.0])
    assert math.isnan(both_empty["dice"][0]) and math.isnan(both_empty["iou"][0])


def test_spacing_from_the_affine():
    x = MetaTensor(torch.zeros(1, 2, 2, 2), affine=torch.diag(torch.tensor([0.9, 0.9, 3.0, 1.0], dtype=torch.float64)))
    assert np.allclose(spacing_of(x), [0.9, 0.9, 3.0])


def test_writer_tables_one_row_per_case_and_means(tmp_path):
    writer = CaseMetricsWriter(str(tmp_path), class_names=["background", "a", "b"], skip_first=True)
    engine = SimpleNamespace(state=SimpleNamespace(metrics={}))
    writer._reset(engine)
    for case, shift in (("c1", 0), ("c2", 1)):
        label = torch.zeros(3, 8, 8)
        label[1, 1:4, 1:4] = 1
        label[2, 5:7, 5:7] = 1
        label[0] = 1 - label[1:].sum(0)
        pred = torch.roll(label, shifts=shift, dims=1)
        image = MetaTensor(torch.zeros(1, 8, 8), affine=torch.eye(4, dtype=torch.float64))
        engine.state.output = [{"pred": pred, "label": label, "image": image}]
        engine.state.batch = [{"case_id": case}]
        writer._collect(engine)
    writer._write(engine)
    rows = list(csv.DictReader((tmp_path / "case_metrics.csv").open()))
    assert [r["case"] for r in rows] == ["c1", "c2"]
    assert {"dice_a", "dice_b", "iou_a", "hd95_b", "mean_dice"} <= set(rows[0])
    assert float(rows[0]["dice_a"]) == 1.0 and float(rows[1]["dice_a"]) < 1.0
    means = {r["class"]: r for r in csv.DictReader((tmp_path / "mean_metrics.csv").open())}
    assert set(means) == {"a", "b", "mean"}
    assert math.isclose(float(means["a"]["dice"]), (1.0 + float(rows[1]["dice_a"])) / 2, rel_tol=1e-5)
    assert math.isclose(engine.state.metrics["mean_dice"], float(means["mean"]["dice"]), rel_tol=1e-5)
