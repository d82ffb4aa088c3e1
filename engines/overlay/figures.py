"""Pictures of a segmented 2D slice: image channels, the ground truth and the prediction of every class over them,
labelled with the data set's channel and class names, each class's Dice in the legend.

Binary segmentation is the one-class case (class names ``["background", <name>]``); a label or prediction is then
a mask thresholded at 0.5, otherwise a map of class indices ``0..N-1``. Every slice is drawn by :func:`draw_slice`
in one of two array layouts: ``"xy"`` (an (X, Y) slice as MONAI loads a NIfTI: drawn transposed with the origin
at the bottom left, the radiological view) or ``"rows_columns"`` (a TIFF/PNG page: drawn as stored).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from monai.metrics import compute_dice  # noqa: E402
from monai.networks.utils import one_hot  # noqa: E402

from engines.overlay.colours import FN_COLOUR, FP_COLOUR, TP_COLOUR, class_colour  # noqa: E402

__all__ = [
    "ARRAY_LAYOUTS",
    "BINARY_CLASSES",
    "channel_name",
    "class_dice",
    "class_index_map",
    "class_rgba",
    "draw_outline",
    "draw_slice",
    "error_legend",
    "error_overlay",
    "error_rgba",
    "foreground_counts",
    "overlay_figure",
    "pick_slice",
    "region_index_map",
    "window",
]

ARRAY_LAYOUTS = ("xy", "rows_columns")
#: Class names of a binary segmentation whose data set does not name its foreground.
BINARY_CLASSES = ("background", "foreground")


def channel_name(channel_names: Sequence[str] | None, c: int) -> str:
    """The name of image channel ``c``: ``channel_names[c]``, else ``"channel c"`` (never a guessed modality)."""
    if channel_names is not None and c < len(channel_names) and str(channel_names[c]):
        return str(channel_names[c])
    return f"channel {c}"


def window(image: np.ndarray) -> tuple[float, float]:
    """Display range of ``image``: its 1st and 99th percentile (a range of 1 when they are equal)."""
    image = np.asarray(image, dtype=float)
    lo, hi = np.percentile(image, [1, 99]) if image.size else (0.0, 1.0)
    return float(lo), float(hi if hi > lo else lo + 1.0)


def pick_slice(mask: np.ndarray, axis: int = -1) -> int:
    """Index along ``axis`` of the slice with the most foreground in ``mask`` (the middle one if empty)."""
    mask = np.asarray(mask) > 0
    axis = axis % mask.ndim
    other = tuple(i for i in range(mask.ndim) if i != axis)
    counts = mask.sum(axis=other)
    return int(np.argmax(counts)) if counts.any() else mask.shape[axis] // 2


def class_index_map(
    x: np.ndarray | None, label_values: Sequence[int] | None = None, binary: bool = False
) -> np.ndarray | None:
    """A ``(*spatial)`` map of class indices from channel-first data.

    Args:
        x: one-hot or score channels ``(C > 1, *spatial)`` (argmax), or a ``(1, *spatial)`` mask / label map.
        label_values: values of the classes in a label map when they are not ``0..N-1`` (BraTS ``[0, 1, 2, 4]``):
            each value becomes its index in this list, unlisted values 0.
        binary: a one-channel ``x`` is a mask: above 0.5 is class 1.

    Returns:
        int64 array of ``x.shape[1:]``, or None when ``x`` is None.
    """
    if x is None:
        return None
    x = np.asarray(x)
    if x.shape[0] > 1:
        return x.argmax(axis=0).astype(np.int64)
    if binary and label_values is None:
        return (x[0] > 0.5).astype(np.int64)
    index = np.rint(x[0]).astype(np.int64)
    if label_values is not None:
        out = np.zeros_like(index)
        for i, value in enumerate(label_values):
            out[index == int(value)] = i
        index = out
    return index


def foreground_counts(
    x: np.ndarray, axis: int, label_values: Sequence[int] | None = None, binary: bool = False, regions: bool = False
) -> np.ndarray:
    """Foreground voxels of every slice of channel-first data along spatial ``axis``: the voxels whose
    :func:`class_index_map` is not 0 (``regions``: the region voxels above 0.5, summed over the regions), counted
    without building the whole map, so that a picture can choose its slice first and convert only that slice.

    Args:
        x: ``(C, *spatial)`` as :func:`class_index_map` takes it (``regions``: ``(R, *spatial)``).
        axis: spatial axis of the slices (0 = the first axis after the channels).
        label_values, binary: as :func:`class_index_map`.
        regions: ``x`` holds region channels.

    Returns:
        int64 array of length ``x.shape[axis + 1]``.
    """
    x = np.asarray(x)
    if regions:
        foreground = x > 0.5
    elif x.shape[0] > 1:  # argmax is not 0: some class beats channel 0 (argmax gives ties to the first channel)
        foreground = x[1:].max(axis=0) > x[0]
    elif binary and label_values is None:
        foreground = x[0] > 0.5
    elif label_values is None:
        foreground = np.rint(x[0]) != 0
    else:  # the last listed index of a value wins in class_index_map
        last = {int(v): i for i, v in enumerate(label_values)}
        foreground = np.isin(np.rint(x[0]), [v for v, i in last.items() if i > 0])
    spatial = axis % (x.ndim - 1) + foreground.ndim - (x.ndim - 1)
    other = tuple(i for i in range(foreground.ndim) if i != spatial)
    return foreground.sum(axis=other, dtype=np.int64)


def region_index_map(regions: np.ndarray) -> np.ndarray:
    """``(R, *spatial)`` region masks (above 0.5) -> ``(*spatial)`` int64 map of the last region (1..R) covering each
    voxel, 0 where none does (nnU-Net declares overlapping regions outer first, so inner regions stay visible)."""
    regions = np.asarray(regions)
    out = np.zeros(regions.shape[1:], dtype=np.int64)
    for r in range(regions.shape[0]):
        out[regions[r] > 0.5] = r + 1
    return out


def _regions(x: np.ndarray, shape: tuple[int, ...], count: int) -> np.ndarray:
    """``x`` as ``(count, *shape)`` boolean region masks."""
    x = np.asarray(x)
    if x.shape != (count, *shape):
        raise ValueError(f"regions of shape {x.shape}; expected {(count, *shape)} (one mask per named region).")
    return x > 0.5


def _plane(x: np.ndarray, shape: tuple[int, ...], num_classes: int) -> np.ndarray:
    """``x`` ((H, W) or (1, H, W)) as an (H, W) int64 class map: a mask above 0.5 when binary, else rounded."""
    x = np.asarray(x)
    if x.ndim == len(shape) + 1 and x.shape[0] == 1:
        x = x[0]
    if x.shape != tuple(shape):
        raise ValueError(f"mask shape {x.shape} differs from the image slice shape {tuple(shape)}.")
    if x.dtype == bool or num_classes == 2:
        return (x > 0.5).astype(np.int64)
    return np.rint(x).astype(np.int64)


def class_dice(label: np.ndarray, pred: np.ndarray, num_classes: int) -> list[float]:
    """Dice of each foreground class ``1..num_classes-1`` of two class-index maps, by MONAI's ``compute_dice``.

    A class absent from both maps scores 1.0 (nothing to find, nothing found), one only predicted scores 0.0
    (``ignore_empty=False``).

    Args:
        label: ``(*spatial)`` ground-truth class indices (a binary mask for ``num_classes=2``).
        pred: ``(*spatial)`` predicted class indices.
        num_classes: classes with the background.

    Raises:
        ValueError: a value outside ``0..num_classes-1``.
    """
    maps = []
    for name, x in (("label", label), ("pred", pred)):
        t = torch.as_tensor(np.asarray(x)).long()
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
            raise ValueError(
                f"{name} holds class values {sorted(torch.unique(t).tolist())}; with {num_classes} classes they must "
                f"be 0..{num_classes - 1} (map label values to class indices first, e.g. label_values=[0, 1, 2, 4])."
            )
        maps.append(one_hot(t[None, None], num_classes, dim=1))
    dice = compute_dice(maps[1], maps[0], include_background=False, ignore_empty=False)
    return [float(d) for d in dice[0]]


def class_rgba(index: np.ndarray, classes: Sequence[int], alpha: float = 0.55) -> np.ndarray:
    """``(*index.shape, 4)`` RGBA layer: each class of ``classes`` in its colour, the rest transparent."""
    rgba = np.zeros((*np.shape(index), 4))
    for c in classes:
        rgba[np.asarray(index) == c] = (*class_colour(c), alpha)
    return rgba


def _errors(label: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks of true positives (the right foreground class), false positives (foreground where the truth is
    background or another class) and false negatives (truth predicted as background)."""
    tp = (pred > 0) & (pred == label)
    fp = (pred > 0) & (pred != label)
    fn = (label > 0) & (pred == 0)
    return tp, fp, fn


def error_rgba(label: np.ndarray, pred: np.ndarray, alpha: float = 0.7) -> np.ndarray:
    """``(*spatial, 4)`` RGBA layer of the errors of ``pred`` against ``label`` (class-index maps): true positives
    :data:`~engines.overlay.colours.TP_COLOUR`, false positives ``FP_COLOUR``, false negatives ``FN_COLOUR``."""
    rgba = np.zeros((*np.shape(label), 4))
    for mask, colour in zip(_errors(np.asarray(label), np.asarray(pred)), (TP_COLOUR, FP_COLOUR, FN_COLOUR)):
        rgba[mask] = (*colour, alpha)
    return rgba


def error_overlay(image: np.ndarray, label: np.ndarray, pred: np.ndarray, alpha: float = 0.7) -> np.ndarray:
    """RGB picture of a prediction against the ground truth over a grey image.

    Args:
        image: (X, Y) intensities (one channel).
        label: (X, Y) or (1, X, Y) ground truth: a binary mask (or boolean), or class indices (integers > 1).
        pred: the prediction, alike.
        alpha: opacity of the colours.

    Returns:
        (X, Y, 3) floats in [0, 1]: the errors of :func:`error_rgba` blended over the grey image (scaled between
        its 1st and 99th percentile); true negatives grey.
    """
    image = np.asarray(image, dtype=float)
    lo, hi = window(image)
    grey = np.clip((image - lo) / (hi - lo), 0.0, 1.0)
    maps = [np.asarray(m) for m in (label, pred)]
    num_classes = 2 if all(m.dtype == bool or m.max(initial=0) <= 1 for m in maps) else 0
    truth, guess = (_plane(m, grey.shape, num_classes) for m in maps)
    layer = error_rgba(truth, guess, alpha)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    return (1 - layer[..., 3:]) * rgb + layer[..., 3:] * layer[..., :3]


def _oriented(picture: np.ndarray, array_layout: str) -> tuple[np.ndarray, str]:
    if array_layout not in ARRAY_LAYOUTS:
        raise ValueError(f"array_layout must be 'xy' or 'rows_columns', got {array_layout!r}.")
    picture = np.asarray(picture)
    return (np.swapaxes(picture, 0, 1), "lower") if array_layout == "xy" else (picture, "upper")


def draw_slice(
    ax,
    image: np.ndarray,
    title: str = "",
    array_layout: str = "xy",
    layers: Sequence[np.ndarray] = (),
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
) -> None:
    """Draw one 2D slice on ``ax``: ``image`` (H, W) with ``cmap`` (grey between its 1st and 99th percentile unless
    ``vmin``/``vmax`` are given), then each RGBA ``layers`` entry (H, W, 4) over it, oriented by ``array_layout``."""
    shown, origin = _oriented(image, array_layout)
    lo, hi = window(image) if vmin is None or vmax is None else (vmin, vmax)
    ax.imshow(shown, cmap=cmap, vmin=lo, vmax=hi, origin=origin)
    for layer in layers:
        ax.imshow(_oriented(layer, array_layout)[0], origin=origin)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def draw_outline(ax, mask: np.ndarray, colour, array_layout: str = "xy", linewidth: float = 0.8) -> None:
    """The outline of a 2D boolean ``mask`` on ``ax`` (nothing when the mask is empty or full)."""
    mask = np.asarray(mask) > 0
    if 0 < mask.sum() < mask.size:
        shown, origin = _oriented(mask.astype(float), array_layout)
        ax.contour(shown, levels=[0.5], colors=[colour], linewidths=linewidth, origin=origin)


def _class_handles(class_names: Sequence[str], dice: Sequence[float] | None) -> list[Patch]:
    handles = []
    for c in range(1, len(class_names)):
        text = str(class_names[c]) if dice is None else f"{class_names[c]} (Dice {dice[c - 1]:.3f})"
        handles.append(Patch(color=class_colour(c), label=text))
    return handles


def _error_handles(counts: Sequence[int] | None) -> list[Patch]:
    names = ("true positive", "false positive", "false negative")
    texts = names if counts is None else [f"{n} ({k} px)" for n, k in zip(names, counts)]
    return [Patch(color=colour, label=t) for colour, t in zip((TP_COLOUR, FP_COLOUR, FN_COLOUR), texts)]


def error_legend(fig, counts: Sequence[int] | None = None) -> None:
    """Legend of the error colours at the bottom of ``fig``; with ``counts`` (TP, FP, FN) their pixel counts."""
    fig.legend(handles=_error_handles(counts), loc="lower center", ncol=3, fontsize=7, frameon=False)


def overlay_figure(
    image: np.ndarray,
    label: np.ndarray | None = None,
    pred: np.ndarray | None = None,
    title: str = "",
    channel_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    array_layout: str = "xy",
    channels: Sequence[int] | str = (0,),
    per_class: bool = False,
    errors: bool = False,
    channel_title: str = "image: {}",
    regions: bool = False,
):
    """One row of panels of a 2D slice: image channel(s), ground truth, [each predicted class], prediction, [errors].

    The ground truth and the prediction are filled in the colours of their classes over the first shown channel;
    the prediction panel outlines the ground truth of each class in the same colour. The legend names every class;
    with both ``label`` and ``pred`` it gives each class's Dice on this slice (:func:`class_dice`).

    Args:
        image: ``(C, H, W)`` image slice.
        label: ``(H, W)`` or ``(1, H, W)`` ground truth (a mask for binary, else class indices), or None.
        pred: the prediction, alike, or None (no prediction panel).
        title: figure title.
        channel_names: the data set's names of the C channels (``spec.channel_names``); missing ones are numbered.
        class_names: the class names, background first; None: binary ``("background", "foreground")``.
        array_layout: ``"xy"`` or ``"rows_columns"`` (see the module docstring).
        channels: indices of the channels shown, or ``"all"``.
        per_class: a panel per predicted class before the prediction (seed 001's Figure 3); only with 2+ classes.
        errors: a panel of the errors (:func:`error_rgba`) when ``label`` and ``pred`` are given, with their
            colours and pixel counts in the legend.
        channel_title: title of a channel panel, ``{}`` being the channel's name.
        regions: ``label`` and ``pred`` are ``(R, H, W)`` masks of possibly overlapping regions (nnU-Net's
            region-based labels; ``class_names`` = background + the R region names): each region's panel, outline
            and Dice are those of its whole mask; composites show the last region covering a pixel.

    Returns:
        ``matplotlib.figure.Figure`` (the caller closes it).

    Raises:
        ValueError: ``image`` is not (C, H, W), a mask's shape differs, a class value is out of range, or an unknown
            ``array_layout``.
    """
    if array_layout not in ARRAY_LAYOUTS:
        raise ValueError(f"array_layout must be 'xy' or 'rows_columns', got {array_layout!r}.")
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must be a (C, H, W) slice, got shape {image.shape}.")
    names = list(class_names) if class_names is not None else list(BINARY_CLASSES)
    if len(names) < 2:
        raise ValueError(f"class_names must name the background and at least one class, got {names}.")
    n = len(names)
    shown = list(range(image.shape[0])) if channels == "all" else [int(c) for c in channels]
    base = image[shown[0]]
    if regions:
        truth_masks = None if label is None else list(_regions(label, base.shape, n - 1))
        guess_masks = None if pred is None else list(_regions(pred, base.shape, n - 1))
        truth = None if label is None else region_index_map(np.stack(truth_masks))
        guess = None if pred is None else region_index_map(np.stack(guess_masks))
    else:
        truth = None if label is None else _plane(label, base.shape, n)
        guess = None if pred is None else _plane(pred, base.shape, n)
        truth_masks = None if truth is None else [truth == c for c in range(1, n)]
        guess_masks = None if guess is None else [guess == c for c in range(1, n)]
    dice = None
    if truth_masks is not None and guess_masks is not None and regions:
        dice = [class_dice(t, g, 2)[0] for t, g in zip(truth_masks, guess_masks)]  # overlapping: one region at a time
    elif truth is not None and guess is not None:
        dice = class_dice(truth, guess, n)
    classes = list(range(1, n))

    panels: list[tuple[np.ndarray, str, list[np.ndarray], list[int]]] = []  # image, title, layers, outlined classes
    panels += [(image[c], channel_title.format(channel_name(channel_names, c)), [], []) for c in shown]
    if truth is not None:
        panels.append((base, "ground truth", [class_rgba(truth, classes)], []))
    if guess is not None:
        if per_class and n > 2:
            for c in classes:
                text = f"predicted {names[c]}" + ("" if dice is None else f" (Dice {dice[c - 1]:.3f})")
                layer = class_rgba(np.where(guess_masks[c - 1], c, 0), [c])
                panels.append((base, text, [layer], [c] if truth is not None else []))
        panels.append((base, "prediction", [class_rgba(guess, classes)], classes if truth is not None else []))
    counts = None
    if errors and truth is not None and guess is not None:
        counts = [int(m.sum()) for m in _errors(truth, guess)]
        text = "errors" + (f" (slice Dice {dice[0]:.3f})" if n == 2 else "")
        panels.append((base, text, [error_rgba(truth, guess)], []))

    fig, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 3.0), squeeze=False)
    for ax, (picture, text, layers, outlined) in zip(axes[0], panels):
        draw_slice(ax, picture, text, array_layout, layers)
        for c in outlined:
            draw_outline(ax, truth_masks[c - 1], class_colour(c), array_layout)
    handles = _class_handles(names, dice) + (_error_handles(counts) if counts is not None else [])
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    rows = -(-len(handles) // 4)
    fig.tight_layout(rect=(0, min(0.07 * rows, 0.3), 1, 1))
    return fig


def save_figure(
    fig, path: str | os.PathLike, writer=None, tag: str | None = None, step: int = 0, dpi: int = 80
) -> Path:
    """Write ``fig`` as PNG at ``path`` and, with a TensorBoard ``writer``, as image ``tag`` at ``step``; close it.

    The figure is rendered once, at ``dpi``, for both (``savefig`` and TensorBoard's ``add_figure`` would each
    draw it again).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    Image.fromarray(rgb).save(path)
    if writer is not None:
        writer.add_image(tag or path.stem, rgb, global_step=step, dataformats="HWC")
    plt.close(fig)
    return path
