"""Pictures of multi-class segmentations (seed 001, Figure 3): the image, the ground truth, the predicted mask of
each class and the composite of all classes, as PNG and in TensorBoard."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from ignite.engine import Engine  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from engines.overlay import SegmentationOverlayHandler, _numpy  # noqa: E402

__all__ = ["CLASS_COLOURS", "MultiClassOverlayHandler", "class_index_map", "multiclass_figure"]

# class 1.. colours (RGB); BraTS after mapping: 1 NCR/NET red, 2 edema green, 3 enhancing yellow
CLASS_COLOURS = ((0.9, 0.1, 0.1), (0.1, 0.8, 0.1), (1.0, 0.85, 0.0), (0.2, 0.4, 1.0), (0.8, 0.2, 0.9), (0.0, 0.8, 0.8))


def class_index_map(x: np.ndarray | None, label_values: Sequence[int] | None = None) -> np.ndarray | None:
    """A ``(*spatial)`` map of class indices from one-hot / score channels ``(C > 1, *spatial)`` (argmax) or a
    ``(1, *spatial)`` label map; with ``label_values`` (e.g. BraTS ``[0, 1, 2, 4]``) label values are turned into
    the index of their value in that list (values not listed become 0)."""
    if x is None:
        return None
    x = np.asarray(x)
    if x.shape[0] > 1:
        return x.argmax(axis=0)
    index = np.rint(x[0]).astype(np.int64)
    if label_values is not None:
        out = np.zeros_like(index)
        for i, value in enumerate(label_values):
            out[index == int(value)] = i
        index = out
    return index


def _source(image) -> str:
    meta = getattr(image, "meta", None) or {}
    return str(meta.get("filename_or_obj", ""))


def _case_name(engine: Engine, image) -> str:
    """The ``case_id`` of the engine's first batch item, else the image file's name."""
    batch = engine.state.batch
    first = batch[0] if isinstance(batch, (list, tuple)) and batch else batch
    case = first.get("case_id") if isinstance(first, dict) else None
    return str(case) if case else Path(_source(image)).name


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    denom = a.sum() + b.sum()
    return float(2.0 * np.logical_and(a, b).sum() / denom) if denom else 1.0


def multiclass_figure(
    image: np.ndarray,
    label: np.ndarray | None,
    pred: np.ndarray | None,
    class_names: Sequence[str],
    title: str = "",
    channel_name: str = "",
):
    """Seed 001's Figure 3 for one 2D slice: image | ground truth composite | each predicted class | composite.

    Args:
        image: ``(C, H, W)`` image slice; channel 0 is shown (FLAIR in the BraTS bundle).
        label: ``(H, W)`` class indices of the ground truth, or None (inference).
        pred: ``(H, W)`` predicted class indices, or None.
        class_names: names of the classes, index 0 being the background (not drawn).
        title: figure title.
        channel_name: name of the shown channel.

    Returns:
        ``matplotlib.figure.Figure`` (the caller closes it). Each class panel's title gives the slice Dice of that
        class when a label is given.
    """
    img = np.asarray(image)[0]
    lo, hi = np.percentile(img, [1, 99]) if img.size else (0.0, 1.0)
    classes = list(range(1, len(class_names)))
    panels: list[tuple[str, np.ndarray | None, list[int]]] = [(f"image: {channel_name}".rstrip(": "), None, [])]
    if label is not None:
        panels.append(("ground truth", label, classes))
    if pred is not None:
        for c in classes:
            name = f"predicted {class_names[c]}"
            if label is not None:
                name += f" (Dice {_dice(label == c, pred == c):.2f})"
            panels.append((name, pred, [c]))
        panels.append(("predicted composite", pred, classes))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.8 * len(panels), 3.2), squeeze=False)
    for ax, (name, index, shown) in zip(axes[0], panels):
        ax.imshow(img.T, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, origin="lower")
        if index is not None:
            rgba = np.zeros((*index.T.shape, 4))
            for c in shown:
                rgba[index.T == c] = (*CLASS_COLOURS[(c - 1) % len(CLASS_COLOURS)], 0.55)
            ax.imshow(rgba, origin="lower")
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    handles = [
        Patch(color=CLASS_COLOURS[(c - 1) % len(CLASS_COLOURS)], label=class_names[c]) for c in classes
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(classes), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


class MultiClassOverlayHandler(SegmentationOverlayHandler):
    """Evaluator handler: after each run, draw one case's class-by-class and composite masks (PNG + TensorBoard).

    :class:`~engines.SegmentationOverlayHandler` with the multi-class figure (:func:`multiclass_figure`).

    It keeps the first item of the run, picks the slice with the most ground-truth foreground (prediction when
    there is no label), writes ``<output_dir>/<tag>_epoch<E>.png`` and adds the figure to TensorBoard in ``log_dir``
    under ``<tag>/classes`` at step E (the trainer's epoch when run by a ValidationHandler).

    Args:
        output_dir: folder of the PNG files.
        class_names: names of the classes, index 0 the background.
        log_dir: TensorBoard log folder, or None for PNG only.
        tag: name used in file names and the TensorBoard tag.
        channel_names: names of the image channels; the first is printed under the image.
        label_values: values of the classes in ``label``/``pred`` label maps when they are not ``0..C-1`` (inference
            writes BraTS labels ``[0, 1, 2, 4]``); one-hot channels need none.
        image_key, label_key, pred_key: keys of the decollated engine output items; ``pred``/``label`` are one-hot
            ``(C, ...)`` or ``(1, ...)`` label maps.
        axis: spatial axis of the slices of 3D volumes (2 = axial).
    """

    def __init__(
        self,
        output_dir: str,
        class_names: Sequence[str],
        log_dir: str | None = None,
        tag: str = "validation",
        channel_names: Sequence[str] = ("FLAIR",),
        label_values: Sequence[int] | None = None,
        image_key: str = "image",
        label_key: str = "label",
        pred_key: str = "pred",
        axis: int = 2,
    ) -> None:
        if len(class_names) < 2:
            raise ValueError(f"class_names must name the background and at least one class, got {list(class_names)}.")
        super().__init__(
            output_dir=output_dir, log_dir=log_dir, tag=tag, image_key=image_key, label_key=label_key,
            pred_key=pred_key, axis=axis, channel_names=channel_names,
        )  # fmt: skip
        self.class_names = list(class_names)
        self.label_values = None if label_values is None else [int(v) for v in label_values]

    _tensorboard_name = "classes"

    def _capture_item(self, engine: Engine, item: dict) -> dict:
        """``image`` (C, *spatial), ``label``/``pred`` as (1, *spatial) class-index maps, the case id as ``name``."""
        image_key, label_key, pred_key = self.keys
        label, pred = (class_index_map(_numpy(item.get(k)), self.label_values) for k in (label_key, pred_key))
        return {
            "image": _numpy(item.get(image_key)),
            "label": None if label is None else label[None],
            "pred": None if pred is None else pred[None],
            "name": _case_name(engine, item.get(image_key)),
        }

    def _figure(self, image: np.ndarray, label: np.ndarray | None, pred: np.ndarray | None, title: str):
        return multiclass_figure(
            image, None if label is None else label[0], None if pred is None else pred[0], self.class_names,
            title=title, channel_name=self.channel_names[0] if self.channel_names else "",
        )  # fmt: skip
