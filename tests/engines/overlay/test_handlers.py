"""The picture handlers: PNG + TensorBoard per evaluation run, named as the data set names its channels/classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from monai.data import MetaTensor
from tensorboard.backend.event_processing.event_accumulator import IMAGES, EventAccumulator

import engines.overlay.handlers as handlers_module
from engines import MultiClassOverlayHandler, SegmentationOverlayHandler
from engines.overlay import class_dice


@pytest.fixture
def drawn(monkeypatch):
    """The texts and arguments of every figure the handlers draw (the real figure is still drawn and saved)."""
    calls = []
    real = handlers_module.overlay_figure

    def recording(image, label, pred, **kwargs):
        fig = real(image, label, pred, **kwargs)
        texts = [ax.get_title() for ax in fig.axes] + [t.get_text() for lg in fig.legends for t in lg.get_texts()]
        calls.append({"texts": texts, "title": fig._suptitle.get_text(), "image": image, "label": label, "pred": pred})
        return fig

    monkeypatch.setattr(handlers_module, "overlay_figure", recording)
    return calls


def test_handler_writes_png_and_tensorboard(tmp_path, drawn):
    image = MetaTensor(torch.rand(4, 16, 16, 6), meta={"filename_or_obj": "/x/BRATS_007.nii.gz"})
    label = torch.zeros(1, 16, 16, 6)
    label[:, 4:9, 4:9, 2] = 1
    pred = label.clone()

    engine = Engine(lambda e, b: [{"image": image, "label": label, "pred": pred}])
    SegmentationOverlayHandler(
        output_dir=str(tmp_path / "pics"), log_dir=str(tmp_path / "tb"), tag="val",
        channel_names=["FLAIR", "T1w", "T1gd", "T2w"], class_names=["background", "tumour"],
    ).attach(engine)  # fmt: skip
    engine.run([0, 1], max_epochs=2)
    assert sorted(p.name for p in (tmp_path / "pics").glob("*.png")) == ["val_epoch001.png", "val_epoch002.png"]
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    assert acc.Tags()[IMAGES] == ["val/overlay"]
    assert drawn[0]["title"] == "val epoch 1: BRATS_007.nii.gz slice 2"  # the slice with the most tumour
    assert drawn[0]["texts"] == ["image: FLAIR", "ground truth", "prediction", "tumour (Dice 1.000)"]


@pytest.mark.parametrize("label_has_foreground", [True, False])
def test_handler_picks_the_slice_from_the_label_else_the_prediction(tmp_path, drawn, label_has_foreground):
    """The drawn slice is the label's fullest (the prediction's when the label is empty), and only that slice is
    converted: the label and prediction drawn are that slice's class maps."""
    image = torch.rand(2, 8, 8, 5)
    label = torch.zeros(1, 8, 8, 5, dtype=torch.uint8)
    if label_has_foreground:
        label[:, 1:6, 1:6, 1] = 1
    pred = torch.zeros(1, 8, 8, 5)
    pred[:, 2:7, 2:7, 3] = 0.9
    engine = Engine(lambda e, b: [{"image": image, "label": label, "pred": pred}])
    SegmentationOverlayHandler(output_dir=str(tmp_path), tag="val").attach(engine)
    engine.run([0], max_epochs=1)
    z = 1 if label_has_foreground else 3
    assert drawn[0]["title"].endswith(f"slice {z}")
    assert np.array_equal(drawn[0]["image"], image[..., z].numpy())
    assert drawn[0]["label"].tolist() == label[0, ..., z].long().tolist()
    assert drawn[0]["pred"].tolist() == (pred[0, ..., z] > 0.5).long().tolist()


def test_handler_2d_without_label_names_a_micrograph_channel(tmp_path, drawn):
    engine = Engine(lambda e, b: {"image": torch.rand(1, 12, 12), "pred": torch.ones(1, 12, 12), "case_id": "img_3"})
    SegmentationOverlayHandler(output_dir=str(tmp_path), tag="infer", channel_names=["DAPI"],
                               class_names=["background", "nucleus"], array_layout="rows_columns").attach(engine)
    engine.run([0], max_epochs=1)
    assert (tmp_path / "infer_epoch001.png").is_file()
    assert drawn[0]["texts"] == ["image: DAPI", "prediction", "nucleus"]
    assert drawn[0]["title"] == "infer epoch 1: img_3"
    assert not any("FLAIR" in t for t in drawn[0]["texts"])


def test_handler_without_names_numbers_the_channel(tmp_path, drawn):
    item = {"image": torch.rand(3, 8, 8), "label": torch.zeros(1, 8, 8), "pred": torch.zeros(1, 8, 8)}
    engine = Engine(lambda e, b: item)
    SegmentationOverlayHandler(output_dir=str(tmp_path)).attach(engine)
    engine.run([0], max_epochs=1)
    assert drawn[0]["texts"][0] == "image: channel 0" and drawn[0]["texts"][-1] == "foreground (Dice 1.000)"


def test_multiclass_handler_three_classes_one_hot_and_brats_label_values(tmp_path, drawn):
    names = ["background", "NCR/NET", "ED", "ET"]
    label = torch.zeros(1, 10, 10, 4, dtype=torch.long)
    label[0, 1:5, 1:5, 1], label[0, 5:9, 2:8, 1], label[0, 2:4, 6:9, 1] = 1, 2, 3
    pred = label.clone()
    pred[0, 1:3, 1:5, 1] = 0
    one_hot = lambda x: torch.nn.functional.one_hot(x[0], 4).permute(3, 0, 1, 2).float()  # noqa: E731
    item = {"image": torch.rand(2, 10, 10, 4), "label": one_hot(label), "pred": one_hot(pred), "case_id": "BraTS_001"}
    engine = Engine(lambda e, b: [item])
    MultiClassOverlayHandler(output_dir=str(tmp_path / "pics"), class_names=names, log_dir=str(tmp_path / "tb"),
                             channel_names=["FLAIR", "T1ce"]).attach(engine)  # fmt: skip
    engine.run([0], max_epochs=1)
    assert (tmp_path / "pics" / "validation_epoch001.png").is_file()
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    assert acc.Tags()[IMAGES] == ["validation/classes"]
    texts = drawn[0]["texts"]
    dice = class_dice(label[0, ..., 1].numpy(), pred[0, ..., 1].numpy(), 4)
    assert texts[0] == "image: FLAIR" and texts[2] == f"predicted NCR/NET (Dice {dice[0]:.3f})"
    assert texts[-3:] == [f"{n} (Dice {d:.3f})" for n, d in zip(names[1:], dice)]
    assert drawn[0]["title"] == "validation epoch 1: BraTS_001 slice 1"

    brats = {"image": torch.rand(2, 10, 10, 4), "pred": torch.where(pred == 3, 4, pred).float()}  # written values
    engine = Engine(lambda e, b: [brats])
    MultiClassOverlayHandler(output_dir=str(tmp_path / "infer"), class_names=names, tag="inference",
                             label_values=[0, 1, 2, 4]).attach(engine)  # fmt: skip
    engine.run([0], max_epochs=1)
    np.testing.assert_array_equal(drawn[1]["pred"], pred[0, ..., 1].numpy())  # 4 drawn as class 3 (ET)


def test_plan_handler_draws_region_channels_of_a_3d_case(tmp_path, drawn):
    from engines.plan_inference import PlanOverlayHandler

    plan = {"region_based": True, "class_names": ["whole tumour", "core"], "channel_names": ["T2", "ADC"],
            "slice_axis": 0}  # fmt: skip
    regions = torch.zeros(2, 5, 8, 8)
    regions[0, 3, 1:7, 1:7], regions[1, 3, 3:5, 3:5] = 1, 1
    engine = Engine(lambda e, b: [{"image": torch.rand(2, 5, 8, 8), "label": regions, "pred": regions.clone()}])
    PlanOverlayHandler(plan, output_dir=str(tmp_path)).attach(engine)
    engine.run([0], max_epochs=1)
    assert (tmp_path / "validation_epoch001.png").is_file()
    assert drawn[0]["title"].endswith("slice 3") and drawn[0]["label"].shape == (2, 8, 8)
    assert drawn[0]["texts"][0] == "image: T2" and drawn[0]["texts"][-2:] == ["whole tumour (Dice 1.000)",
                                                                              "core (Dice 1.000)"]


def test_handler_rejects_bad_names_and_layout(tmp_path):
    with pytest.raises(ValueError, match="background and at least one class"):
        MultiClassOverlayHandler(output_dir=str(tmp_path), class_names=["background"])
    with pytest.raises(ValueError, match="array_layout"):
        SegmentationOverlayHandler(output_dir=str(tmp_path), array_layout="yx")
