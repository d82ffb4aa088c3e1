"""Picture functions of experiments.pictures and the TensorBoard scalar reader."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import IMAGES, EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from experiments import (
    case_figure,
    curves_figure,
    gallery_figure,
    read_scalars,
    saliency,
    saliency_figure,
    save_figure,
    select_gallery,
)

from tests.masks import overlapping_squares


def test_case_figure_has_one_panel_per_modality_plus_truth_prediction_errors(tmp_path):
    label, pred = overlapping_squares((16, 12))
    image = np.random.default_rng(1).normal(size=(4, 16, 12))
    fig = case_figure(image, label, pred, ("FLAIR", "T1w", "T1gd", "T2w"), title="case")
    assert len(fig.axes) == 4 + 3
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:4] == ["FLAIR", "T1w", "T1gd", "T2w"] and titles[4:6] == ["ground truth", "prediction"]
    assert titles[6].startswith("errors (slice Dice")
    w, h = fig.get_size_inches()
    path = save_figure(fig, tmp_path / "case.png", dpi=50)
    with Image.open(path) as png:
        assert png.size == (round(w * 50), round(h * 50))
    no_truth = case_figure(image[:2], None, pred, ("a",))
    assert [ax.get_title() for ax in no_truth.axes] == ["a", "channel 1", "prediction"]


def test_curves_figure_draws_train_and_validation_per_panel():
    scalars = {
        "train_epoch_loss": [(1, 0.9), (2, 0.5)], "val_loss": [(1, 1.0), (2, 0.7)],
        "train_mean_iou": [(1, 0.2), (2, 0.5)], "val_mean_iou": [(1, 0.1), (2, 0.4)],
        "train_mean_dice": [(1, 0.3), (2, 0.6)], "val_mean_dice": [(1, 0.2), (2, 0.5)],
        "train_accuracy": [(1, 0.9), (2, 0.95)],
    }
    fig = curves_figure(scalars)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "IoU", "Dice", "pixel accuracy"]
    assert [len(ax.lines) for ax in fig.axes] == [2, 2, 2, 1]  # no validation accuracy logged here
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), [0.1, 0.4])


def test_saliency_is_the_gradient_per_input_channel_inside_the_region():
    net = torch.nn.Conv2d(4, 1, kernel_size=1, bias=False)
    with torch.no_grad():
        net.weight.zero_()
        net.weight[0, 0] = 2.0
        net.weight[0, 2] = -0.5
    image = np.random.default_rng(2).normal(size=(4, 6, 5)).astype(np.float32)
    region = np.zeros((6, 5), bool)
    region[1:3, 2:4] = True
    grads = saliency(net, image, region)
    assert grads.shape == (4, 6, 5)
    expected = np.zeros((4, 6, 5))
    expected[0][region], expected[2][region] = 2.0, 0.5
    np.testing.assert_allclose(grads, expected, atol=1e-6)
    everywhere = saliency(net, image, np.zeros((6, 5), bool))  # empty region: every pixel scored
    np.testing.assert_allclose(everywhere[0], 2.0)
    fig = saliency_figure(image, grads, ("FLAIR", "T1w", "T1gd", "T2w"), region)
    assert len(fig.axes) == 8


def test_select_gallery_orders_worst_and_best_without_overlap():
    dice = {"a": 0.9, "b": 0.1, "c": 0.5, "d": float("nan"), "e": 0.95, "f": 0.3}
    assert select_gallery(dice, 2) == (["b", "f"], ["e", "a"])
    assert select_gallery({"a": 0.2, "b": 0.8, "c": 0.5}, 2) == (["a", "c"], ["b"])


def test_gallery_figure_and_tensorboard_image(tmp_path):
    label, pred = overlapping_squares()
    cases = [{"name": f"case{i}", "dice": d, "group": g, "image": np.ones((4, 9, 7)) * i, "label": label,
              "pred": pred} for i, (d, g) in enumerate([(0.1, "worst"), (0.9, "best")])]
    fig = gallery_figure(cases, title="gallery")
    assert len(fig.axes) == 4
    assert fig.axes[3].get_title() == "case Dice 0.900"
    writer = SummaryWriter(log_dir=str(tmp_path / "tb"))
    path = save_figure(fig, tmp_path / "gallery.png", writer, "pictures/gallery", dpi=40)
    writer.close()
    with Image.open(path) as png:
        assert png.format == "PNG" and png.size[0] > 100
        size = png.size
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    assert acc.Tags()[IMAGES] == ["pictures/gallery"]
    image = acc.Images("pictures/gallery")[0]
    assert (image.width, image.height) == size, "one rendering, at the PNG's dpi, for both"


def test_read_scalars_merges_files_and_keeps_the_last_value_of_a_step(tmp_path):
    first = SummaryWriter(log_dir=str(tmp_path))
    first.add_scalar("val_mean_iou", 0.1, 1)
    first.add_scalar("val_mean_iou", 0.2, 2)
    first.close()
    second = SummaryWriter(log_dir=str(tmp_path), filename_suffix=".resumed")
    second.add_scalar("val_mean_iou", 0.25, 2)  # epoch 2 again after a resume
    second.add_scalar("train_epoch_time", 3.0, 3)
    second.close()
    scalars = read_scalars(tmp_path)
    assert [s for s, _ in scalars["val_mean_iou"]] == [1, 2]
    assert math.isclose(scalars["val_mean_iou"][1][1], 0.25, rel_tol=1e-6)
    assert scalars["train_epoch_time"] == [(3, 3.0)]
    with pytest.raises(FileNotFoundError, match="no TensorBoard event files"):
        read_scalars(tmp_path / "missing")


def test_pictures_take_channel_and_class_names_from_the_data_set():
    from monai.bundle import ConfigParser

    from experiments.pictures import _channel_names

    label, pred = overlapping_squares((16, 12))
    image = np.random.default_rng(3).normal(size=(2, 16, 12))
    spec = {"_target_": "types.SimpleNamespace", "channel_names": ["DAPI", "GFP"]}  # as a DatasetSpec has them
    names = _channel_names(ConfigParser({"data": {"dataset": spec}}))
    assert names == ["DAPI", "GFP"] and _channel_names(ConfigParser({"data": {}})) is None
    fig = case_figure(image, label, pred, names, class_names=["background", "nucleus"])
    titles = [ax.get_title() for ax in fig.axes]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert titles[:2] == ["DAPI", "GFP"] and legend[0].startswith("nucleus (Dice ")
    assert legend[0] == f"nucleus (Dice {float(titles[-1].split()[-1][:-1]):.3f})"  # one Dice: errors panel = legend
    unnamed = [ax.get_title() for ax in case_figure(image, label, pred).axes + saliency_figure(image, image).axes]
    assert unnamed[:2] == ["channel 0", "channel 1"] and not any("FLAIR" in t for t in unnamed)
