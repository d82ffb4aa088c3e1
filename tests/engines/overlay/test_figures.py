"""The overlay figure of a slice: channel and class names as the data set gives them, fixed colours, MONAI's Dice."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from monai.metrics import DiceMetric
from monai.networks.utils import one_hot

from engines.overlay import (
    CLASS_COLOURS,
    FN_COLOUR,
    FP_COLOUR,
    TP_COLOUR,
    class_colour,
    class_dice,
    class_index_map,
    foreground_counts,
    error_overlay,
    overlay_figure,
    pick_slice,
    region_index_map,
)

from tests.masks import overlapping_squares


def _texts(fig) -> list[str]:
    """Every text of a figure: suptitle, panel titles, legend entries."""
    texts = [ax.get_title() for ax in fig.axes]
    texts += [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    if fig._suptitle is not None:
        texts.append(fig._suptitle.get_text())
    return texts


def _legend(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def _monai_dice(label: np.ndarray, pred: np.ndarray, num_classes: int) -> list[float]:
    """Per-class Dice of MONAI's DiceMetric (background excluded, empty classes not ignored)."""
    y, p = (one_hot(torch.as_tensor(a).long()[None, None], num_classes, dim=1) for a in (label, pred))
    metric = DiceMetric(include_background=False, reduction="none", ignore_empty=False)
    metric(y_pred=p, y=y)
    return metric.aggregate()[0].tolist()


def _three_classes(size=(12, 10)):
    """Label and prediction maps of background + 3 classes (BraTS-like), every class partly right."""
    label = np.zeros(size, np.int64)
    label[1:6, 1:6], label[6:10, 2:8], label[2:4, 7:9] = 1, 2, 3
    pred = label.copy()
    pred[1:3, 1:6] = 0  # class 1 partly missed
    pred[9, 2:8] = 3  # class 2 partly taken for class 3
    return label, pred


def test_colours_are_fixed_distinct_okabe_ito_and_the_background_has_none():
    assert len(set(CLASS_COLOURS)) == len(CLASS_COLOURS) == 7
    assert class_colour(1) == (0.902, 0.624, 0.0) and class_colour(8) == class_colour(1)
    assert len({TP_COLOUR, FP_COLOUR, FN_COLOUR}) == 3 and set((TP_COLOUR, FP_COLOUR, FN_COLOUR)) <= set(CLASS_COLOURS)
    with pytest.raises(ValueError, match="background"):
        class_colour(0)


def test_class_dice_is_monais_and_scores_absent_classes():
    label, pred = _three_classes()
    ours = class_dice(label, pred, 4)
    np.testing.assert_allclose(ours, _monai_dice(label, pred, 4), rtol=0, atol=1e-7)
    assert 0 < ours[0] < 1 and 0 < ours[1] < 1
    empty = np.zeros((3, 3), np.int64)
    only_pred = empty.copy()
    only_pred[0, 0] = 1
    assert class_dice(empty, empty, 2) == [1.0]  # nothing to find, nothing found
    assert class_dice(empty, only_pred, 2) == [0.0]
    with pytest.raises(ValueError, match=r"class values \[0, 4\].*label_values"):
        class_dice(np.array([[0, 4]]), empty[:1, :2], 4)


def test_multiclass_figure_names_three_classes_and_shows_monais_dice():
    label, pred = _three_classes()
    image = np.random.default_rng(0).normal(size=(4, *label.shape))
    names = ["background", "NCR/NET", "ED", "ET"]
    fig = overlay_figure(image, label, pred, title="case 7", channel_names=["FLAIR", "T1", "T1ce", "T2"],
                         class_names=names, per_class=True)  # fmt: skip
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["image: FLAIR", "ground truth"] and titles[-1] == "prediction"
    assert [t.split(" (")[0] for t in titles[2:5]] == ["predicted NCR/NET", "predicted ED", "predicted ET"]
    legend = _legend(fig)
    assert [t.split(" (Dice")[0] for t in legend] == names[1:]
    shown = [float(re.search(r"\(Dice ([0-9.]+)\)", t).group(1)) for t in legend]
    np.testing.assert_allclose(shown, _monai_dice(label, pred, 4), atol=5e-4)
    assert titles[2].endswith(f"(Dice {shown[0]:.3f})")  # the panel and the legend show the same Dice
    # the colour of a class is the same in the legend and in the prediction layer
    patches = fig.legends[0].get_patches()
    rgba = fig.axes[-1].images[1].get_array()  # prediction layer, drawn transposed ("xy")
    for c in (1, 2, 3):
        np.testing.assert_allclose(patches[c - 1].get_facecolor()[:3], class_colour(c), atol=1e-3)
        x, y = np.argwhere(pred == c)[0]
        np.testing.assert_allclose(rgba[y, x, :3], class_colour(c))
    plt.close(fig)


def test_binary_figure_of_a_micrograph_is_labelled_with_its_own_names():
    label, pred = overlapping_squares((16, 12))
    image = np.random.default_rng(1).normal(size=(1, 16, 12))
    fig = overlay_figure(image, label, pred, channel_names=["DAPI"], class_names=["background", "nucleus"],
                         array_layout="rows_columns")  # fmt: skip
    texts = _texts(fig)
    assert [ax.get_title() for ax in fig.axes] == ["image: DAPI", "ground truth", "prediction"]
    (entry,) = _legend(fig)
    dice = _monai_dice(label, pred, 2)[0]
    assert entry == f"nucleus (Dice {dice:.3f})"
    assert not any("FLAIR" in t for t in texts)
    plt.close(fig)
    unnamed = overlay_figure(image, label)  # a data set that names nothing: numbered, never a guessed modality
    assert _texts(unnamed) == ["image: channel 0", "ground truth", "foreground"]
    plt.close(unnamed)


def test_class_maps_from_one_hot_masks_and_brats_labels():
    one_hot_map = np.zeros((4, 2, 2))
    one_hot_map[[0, 1, 2, 3], [0, 0, 1, 1], [0, 1, 0, 1]] = 1
    assert class_index_map(one_hot_map).tolist() == [[0, 1], [2, 3]]
    brats = np.array([[[0, 1], [2, 4]]], dtype=np.float32)
    assert class_index_map(brats, [0, 1, 2, 4]).tolist() == [[0, 1], [2, 3]]
    assert class_index_map(np.array([[[0.2, 0.7], [255.0, 0.0]]]), binary=True).tolist() == [[0, 1], [1, 0]]
    assert class_index_map(None) is None


@pytest.mark.parametrize("kind", ["scores", "binary", "labels", "brats", "regions"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_foreground_counts_count_the_class_map_without_building_it(kind, axis):
    """Per-slice counts equal the foreground of class_index_map (region masks: their voxels), ties included."""
    rng = np.random.default_rng(axis)
    shape = (5, 6, 7)
    label_values = None
    if kind == "scores":  # argmax ties go to channel 0: rounded scores make ties frequent
        x = np.round(rng.random((3, *shape)), 1)
    elif kind == "binary":
        x = rng.random((1, *shape))
    elif kind == "labels":
        x = rng.integers(0, 3, (1, *shape)).astype(np.float32)
    elif kind == "brats":  # 3 is no listed value (class 0); 4 is class 3
        x, label_values = rng.choice([0, 1, 2, 3, 4], (1, *shape)).astype(np.float32), [0, 1, 2, 4]
    else:
        x = rng.random((2, *shape))
    counts = foreground_counts(x, axis, label_values, binary=kind == "binary", regions=kind == "regions")
    if kind == "regions":
        fg = x > 0.5
        expected = fg.sum(axis=tuple(i for i in range(4) if i != axis + 1))
    else:
        fg = class_index_map(x, label_values, binary=kind == "binary") != 0
        expected = fg.sum(axis=tuple(i for i in range(3) if i != axis))
    assert counts.tolist() == expected.tolist() and counts.any()


def test_pick_slice_most_foreground_or_middle():
    mask = np.zeros((1, 4, 4, 5))
    mask[0, :2, :2, 3] = 1
    mask[0, 0, 0, 1] = 1
    assert pick_slice(mask, axis=-1) == 3
    assert pick_slice(np.zeros((4, 4, 6)), axis=-1) == 3


def test_rows_columns_pages_are_drawn_as_stored_and_named():
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


def test_error_overlay_colours_tp_fp_fn_and_grey_background():
    label, pred = overlapping_squares()
    image = np.random.default_rng(0).normal(size=label.shape)
    rgb = error_overlay(image, label, pred, alpha=1.0)
    assert rgb.shape == (*label.shape, 3)
    np.testing.assert_allclose(rgb[2, 2], TP_COLOUR)
    np.testing.assert_allclose(rgb[5, 5], FP_COLOUR)
    np.testing.assert_allclose(rgb[1, 1], FN_COLOUR)
    tn = rgb[8, 0]
    assert tn[0] == tn[1] == tn[2] and 0.0 <= tn[0] <= 1.0  # true negatives stay grey
    label3, pred3 = _three_classes()
    rgb = error_overlay(np.zeros(label3.shape), label3, pred3, alpha=1.0)
    np.testing.assert_allclose(rgb[9, 3], FP_COLOUR)  # class 2 predicted as class 3: a false positive
    np.testing.assert_allclose(rgb[1, 1], FN_COLOUR)  # class 1 predicted as background
    np.testing.assert_allclose(rgb[7, 3], TP_COLOUR)


def test_error_overlay_rejects_a_mask_of_another_shape():
    label, pred = overlapping_squares()
    with pytest.raises(ValueError, match="differs from the image slice shape"):
        error_overlay(np.zeros((9, 8)), label, pred)


def test_regions_index_map_last_region_wins():
    regions = np.array([[[1, 1, 0]], [[0, 1, 0]]])
    assert region_index_map(regions).tolist() == [[1, 2, 0]]


def test_region_figure_scores_each_whole_region():
    truth = np.zeros((2, 8, 8), bool)
    truth[0, 1:7, 1:7], truth[1, 3:5, 3:5] = True, True  # "whole tumour" contains "core"
    guess = truth.copy()
    guess[1, 3:5, 3:6] = True
    fig = overlay_figure(np.zeros((1, 8, 8)), truth, guess, class_names=["background", "whole tumour", "core"],
                         per_class=True, regions=True)  # fmt: skip
    legend = _legend(fig)
    expected = [_monai_dice(truth[r], guess[r], 2)[0] for r in range(2)]
    assert expected[0] == 1.0 and legend == [f"whole tumour (Dice {expected[0]:.3f})", f"core (Dice {expected[1]:.3f})"]
    shown = fig.axes[2].images[1].get_array()[..., 3] > 0  # "predicted whole tumour": the whole region, core included
    np.testing.assert_array_equal(shown, guess[0].T)
    plt.close(fig)
    with pytest.raises(ValueError, match="one mask per named region"):
        overlay_figure(np.zeros((1, 8, 8)), truth[:1], guess, class_names=["background", "a", "b"], regions=True)
