from __future__ import annotations

import numpy as np
import torch
from ignite.engine import Engine
from monai.data import MetaTensor

from engines import SegmentationOverlayHandler, pick_slice


def test_pick_slice_most_foreground_or_middle():
    mask = np.zeros((1, 4, 4, 5))
    mask[0, :2, :2, 3] = 1
    mask[0, 0, 0, 1] = 1
    assert pick_slice(mask, axis=-1) == 3
    assert pick_slice(np.zeros((4, 4, 6)), axis=-1) == 3


def test_handler_writes_png_and_tensorboard(tmp_path):
    image = MetaTensor(torch.rand(4, 16, 16, 6), meta={"filename_or_obj": "/x/BRATS_007.nii.gz"})
    label = torch.zeros(1, 16, 16, 6)
    label[:, 4:9, 4:9, 2] = 1
    pred = label.clone()

    engine = Engine(lambda e, b: [{"image": image, "label": label, "pred": pred}])
    SegmentationOverlayHandler(output_dir=str(tmp_path / "pics"), log_dir=str(tmp_path / "tb"), tag="val").attach(engine)
    engine.run([0, 1], max_epochs=2)
    assert sorted(p.name for p in (tmp_path / "pics").glob("*.png")) == ["val_epoch001.png", "val_epoch002.png"]
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_handler_2d_without_label(tmp_path):
    engine = Engine(lambda e, b: {"image": torch.rand(4, 12, 12), "pred": torch.ones(1, 12, 12)})
    SegmentationOverlayHandler(output_dir=str(tmp_path), tag="infer").attach(engine)
    engine.run([0], max_epochs=1)
    assert (tmp_path / "infer_epoch001.png").is_file()
