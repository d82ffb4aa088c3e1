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


def test_rows_columns_pages_are_drawn_as_stored_and_named():
    import matplotlib.pyplot as plt
    import pytest

    from engines import overlay_figure

    page = np.arange(12.0).reshape(1, 3, 4)  # (C, rows, columns), e.g. a TIFF page
    mask = np.zeros((3, 4))
    mask[0, 3] = 1
    fig = overlay_figure(page, mask, channel_names=["EM"], array_layout="rows_columns")
    image_ax, label_ax = fig.axes
    np.testing.assert_array_equal(image_ax.images[0].get_array(), page[0])
    assert label_ax.images[1].get_array()[0, 3, 3] > 0  # the label overlay is not transposed either
    assert image_ax.get_title() == "image: EM"
    plt.close(fig)
    fig = overlay_figure(page, mask)  # default: an (X, Y) NIfTI slice, drawn transposed
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), page[0].T)
    plt.close(fig)
    with pytest.raises(ValueError, match="array_layout"):
        overlay_figure(page, array_layout="yx")
