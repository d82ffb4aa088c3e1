"""Synthetic nnU-Net twins: real layout, geometry, units and classes as the issue asks, deterministic by seed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from formats import FORMATS


@pytest.mark.parametrize(
    "kind, channels, spacing, shape",
    [("mri", ["T2"], [0.9, 0.9, 3.0], (1, 32, 32, 12)), ("ct", ["CT"], [0.8, 0.8, 2.0], (1, 32, 32, 12)),
     ("png2d", ["rescale_to_0_1", "zscore"], [1.0, 1.0], (2, 48, 48)),
     ("regions", ["FLAIR", "T1", "T1ce", "T2"], [1.0, 1.0, 1.0], (4, 32, 32, 12))],
)
def test_twin(tmp_path, kind, channels, spacing, shape):
    fmt = FORMATS.get("nnunet_v2")
    root = fmt.synthesize(tmp_path, kind=kind, num_training=2, num_test=1, seed=3)
    meta = json.loads((root / "dataset.json").read_text())
    assert meta["numTraining"] == 2 and list(meta["channel_names"].values()) == channels
    spec = FORMATS.open(root)
    case = fmt.load_transforms(spec)[0](spec.training[0])
    image, label = case["image"], case["label"]
    assert tuple(image.shape) == shape and tuple(label.shape) == (1, *shape[1:])
    np.testing.assert_allclose(np.linalg.norm(image.affine[:3, :3].numpy(), axis=0)[: len(spacing)], spacing)
    values = set(np.unique(label.numpy()).astype(int))
    assert values == set(range(len(spec.label_values or spec.labels)))  # every class present in a case
    means = {c: image[:, label[0] == c].mean(1) for c in values}  # every class its own intensity (some channel)
    for a in values:
        for b in values:
            if 0 < a < b:
                assert (means[a] - means[b]).abs().max() > 0.1 * image.abs().max(), (a, b)
    if kind == "ct":
        assert image.min() < -900 and 100 < image[label > 0].mean() < 160 and (label > 0).sum() < 200
    again = fmt.synthesize(tmp_path / "again", kind=kind, num_training=2, num_test=1, seed=3)
    for f in (root / "imagesTr").iterdir():
        assert f.read_bytes() == (again / "imagesTr" / f.name).read_bytes() or f.suffix == ".gz"
    second = fmt.load_transforms(spec)[0](FORMATS.open(again).training[0])
    np.testing.assert_array_equal(second["image"].numpy(), image.numpy())
