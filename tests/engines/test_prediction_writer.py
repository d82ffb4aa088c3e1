"""Inference outputs of the generic path: label values of dataset.json, regions in their order, NIfTI with the
input's affine, and the per-case volume table."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import torch
from monai.data import MetaTensor

from engines.prediction_writer import PredictionWriter, to_label_values

CLASSES = {"region_based": False, "label_values": [0, 1, 4], "out_channels": 3, "class_names": ["bg", "a", "b"]}
REGIONS = {
    "region_based": True, "out_channels": 2, "class_names": ["whole", "core"], "regions_class_order": [1, 2],
}  # fmt: skip


def test_training_indices_become_label_values():
    pred = torch.tensor([[[0, 1], [2, 2]]])
    assert to_label_values(pred, CLASSES).tolist() == [[0, 1], [4, 4]]


def test_regions_written_in_order_later_over_earlier():
    whole = torch.tensor([[1, 1], [0, 1]])
    core = torch.tensor([[0, 1], [0, 0]])
    assert to_label_values(torch.stack([whole, core]), REGIONS).tolist() == [[1, 2], [0, 1]]


def test_writer_keeps_affine_and_counts_volumes(tmp_path):
    affine = torch.tensor([[0.5, 0, 0, 10], [0, 2.0, 0, -3], [0, 0, 4.0, 1], [0, 0, 0, 1]], dtype=torch.float64)
    pred = MetaTensor(torch.zeros(1, 4, 3, 2), affine=affine)
    pred[0, :2] = 2
    writer = PredictionWriter(str(tmp_path), CLASSES)
    engine = SimpleNamespace(state=SimpleNamespace(output=[{"pred": pred}], batch=[{"case_id": "case7"}]))
    writer._reset(engine)
    writer._write_cases(engine)
    writer._write_table(engine)
    img = nib.load(tmp_path / "case7.nii.gz")
    assert img.shape == (4, 3, 2) and np.allclose(img.affine, affine.numpy())
    assert np.unique(np.asarray(img.dataobj)).tolist() == [0, 4]
    (row,) = list(csv.DictReader((tmp_path / "volumes.csv").open()))
    assert row["case"] == "case7" and row["a_voxels"] == "0" and row["b_voxels"] == "12"
    assert float(row["b_ml"]) == 12 * 4.0 / 1000, "voxel 0.5 x 2 x 4 mm = 4 mm3"


def test_writer_in_the_input_format_png(tmp_path):
    from PIL import Image

    reference = tmp_path / "in" / "case3_0000.png"
    reference.parent.mkdir()
    Image.fromarray(np.zeros((5, 6), dtype=np.uint8)).save(reference)
    pred = MetaTensor(torch.zeros(1, 5, 6), affine=torch.eye(4, dtype=torch.float64))
    pred[0, 1, 2] = 1
    pred.meta["filename_or_obj"] = str(reference)
    writer = PredictionWriter(str(tmp_path / "out"), CLASSES, file_ending="input")
    engine = SimpleNamespace(state=SimpleNamespace(output=[{"pred": pred}], batch=[{"case_id": "case3"}]))
    writer._reset(engine)
    writer._write_cases(engine)
    written = np.asarray(Image.open(tmp_path / "out" / "case3.png"))
    assert written.shape == (5, 6) and written[1, 2] == 1 and written.sum() == 1
