"""Pictures of segmentations: image, ground truth and prediction side by side, as PNG and in TensorBoard."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from ignite.engine import Engine, Events  # noqa: E402

__all__ = ["SegmentationOverlayHandler", "overlay_figure", "pick_slice"]


def _numpy(x) -> np.ndarray | None:
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().float().numpy()
    return np.asarray(x)


def pick_slice(mask: np.ndarray, axis: int = -1) -> int:
    """Index along ``axis`` of the slice with the most foreground in ``mask`` (the middle one if empty)."""
    mask = np.asarray(mask) > 0
    axis = axis % mask.ndim
    other = tuple(i for i in range(mask.ndim) if i != axis)
    counts = mask.sum(axis=other)
    return int(np.argmax(counts)) if counts.any() else mask.shape[axis] // 2


def overlay_figure(
    image: np.ndarray,
    label: np.ndarray | None = None,
    pred: np.ndarray | None = None,
    title: str = "",
    channel_names: Sequence[str] = ("FLAIR",),
    array_layout: str = "xy",
):
    """A matplotlib figure: image channel 0, the ground truth over it (red), the prediction over it (green).

    Args:
        image: (C, H, W) image slice; channel 0 is shown.
        label: (H, W) or (1, H, W) binary ground truth, or None.
        pred: (H, W) or (1, H, W) binary prediction, or None.
        title: figure title.
        channel_names: names of the channels, the first is printed under the image.
        array_layout: ``"xy"``: the slice is (X, Y) as MONAI loads a NIfTI (shown transposed, origin lower left, the
            radiological view); ``"rows_columns"``: a (rows, columns) image such as a TIFF page, shown as stored.

    Returns:
        ``matplotlib.figure.Figure`` (the caller closes it).
    """
    if array_layout not in ("xy", "rows_columns"):
        raise ValueError(f"array_layout must be 'xy' or 'rows_columns', got {array_layout!r}.")
    xy = array_layout == "xy"
    img = np.asarray(image)[0]
    panels = [("image: " + channel_names[0], None, None)]
    if label is not None:
        panels.append(("ground truth", np.squeeze(label) > 0.5, (1.0, 0.1, 0.1)))
    if pred is not None:
        panels.append(("prediction", np.squeeze(pred) > 0.5, (0.1, 0.9, 0.1)))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False)
    lo, hi = np.percentile(img, [1, 99]) if img.size else (0, 1)
    for ax, (name, mask, colour) in zip(axes[0], panels):
        origin = "lower" if xy else "upper"
        ax.imshow(img.T if xy else img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, origin=origin)
        if mask is not None:
            shown = mask.T if xy else mask
            rgba = np.zeros((*shown.shape, 4))
            rgba[shown] = (*colour, 0.45)
            ax.imshow(rgba, origin=origin)
        if name == "prediction" and label is not None:
            truth = np.squeeze(label) > 0.5
            denom = truth.sum() + mask.sum()
            dice = 2.0 * np.logical_and(truth, mask).sum() / denom if denom else 1.0
            name = f"prediction (slice Dice {dice:.3f})"
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


class SegmentationOverlayHandler:
    """Evaluator handler: after each evaluation run, draw one case (image / ground truth / prediction).

    It keeps the first item of the run, picks the slice with the most ground-truth foreground (prediction
    if there is no label), writes ``<output_dir>/<tag>_epoch<E>.png`` and adds the figure to TensorBoard in
    ``log_dir`` under ``<tag>/overlay`` at step E (the trainer's epoch when run by a ValidationHandler).

    Args:
        output_dir: folder of the PNG files.
        log_dir: TensorBoard log folder, or None for PNG only.
        tag: name used in file names and the TensorBoard tag.
        image_key, label_key, pred_key: keys of the decollated engine output items.
        axis: spatial axis of the slices for 3D volumes (2 = axial).
        channel_names: names of the image channels (the first is shown).
        array_layout: ``"xy"`` (NIfTI-like volumes) or ``"rows_columns"`` (TIFF/PNG pages); see :func:`overlay_figure`.
    """

    def __init__(
        self,
        output_dir: str,
        log_dir: str | None = None,
        tag: str = "validation",
        image_key: str = "image",
        label_key: str = "label",
        pred_key: str = "pred",
        axis: int = 2,
        channel_names: Sequence[str] = ("FLAIR",),
        array_layout: str = "xy",
    ) -> None:
        self.output_dir = Path(output_dir)
        self.log_dir = log_dir
        self.tag = tag
        self.keys = (image_key, label_key, pred_key)
        self.axis = axis
        self.channel_names, self.array_layout = tuple(channel_names), array_layout
        self._item: dict | None = None
        self._writer = None
        self.logger = logging.getLogger(__name__)

    _tensorboard_name = "overlay"  # TensorBoard tag: <tag>/<this>

    def attach(self, engine: Engine) -> None:
        """Register with an evaluator ``engine``."""
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._capture)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._draw)

    def _reset(self, engine: Engine) -> None:
        self._item = None

    def _capture(self, engine: Engine) -> None:
        if self._item is not None:
            return
        output = engine.state.output
        self._item = self._capture_item(engine, output[0] if isinstance(output, (list, tuple)) else output)

    def _capture_item(self, engine: Engine, item: dict) -> dict:
        """``image`` (C, *spatial), ``label``/``pred`` (1, *spatial) as NumPy arrays, and the case ``name``."""
        image_key, label_key, pred_key = self.keys
        captured = {
            "image": _numpy(item.get(image_key)),
            "label": _numpy(item.get(label_key)),
            "pred": _numpy(item.get(pred_key)),
        }
        meta = getattr(item.get(image_key), "meta", None) or {}
        captured["name"] = Path(str(meta.get("filename_or_obj", ""))).name
        if "page" in meta:  # one page of a stack (formats.isbi2012.readers.LoadTiffPaged)
            captured["name"] += f" page {int(meta['page'])}"
        return captured

    def _figure(self, image: np.ndarray, label: np.ndarray | None, pred: np.ndarray | None, title: str):
        """The figure of one 2D slice: ``image`` (C, H, W), ``label``/``pred`` (1, H, W) or None."""
        return overlay_figure(
            image, label, pred, title=title, channel_names=self.channel_names, array_layout=self.array_layout
        )

    def _draw(self, engine: Engine) -> None:
        if self._item is None or self._item["image"] is None:
            return
        image, label, pred = self._item["image"], self._item["label"], self._item["pred"]
        if image.ndim == 4:  # (C, X, Y, Z): choose a slice
            z = pick_slice(label if label is not None else pred, axis=self.axis + 1)
            image, label, pred = (None if a is None else np.take(a, z, axis=self.axis + 1) for a in (image, label, pred))
            where = f" slice {z}"
        else:
            where = ""
        epoch = engine.state.epoch
        fig = self._figure(image, label, pred, title=f"{self.tag} epoch {epoch}: {self._item['name']}{where}")
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / f"{self.tag}_epoch{epoch:03d}.png"
        fig.savefig(path, dpi=90)
        if self.log_dir is not None:
            if self._writer is None:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(log_dir=self.log_dir)
            self._writer.add_figure(f"{self.tag}/{self._tensorboard_name}", fig, global_step=epoch)
            self._writer.flush()
        plt.close(fig)
        self.logger.info(f"{self.tag} picture: {path}")
