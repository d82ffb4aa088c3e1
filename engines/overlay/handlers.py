"""Ignite handlers that draw one case of each evaluation run (:func:`~engines.overlay.figures.overlay_figure`) as a
PNG file and a TensorBoard image: binary (:class:`SegmentationOverlayHandler`) and multi-class
(:class:`MultiClassOverlayHandler`, seed 001's Figure 3 with a panel per class)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events

from engines.overlay.figures import (
    BINARY_CLASSES,
    class_index_map,
    foreground_counts,
    overlay_figure,
    pick_slice,
    save_figure,
)

__all__ = ["MultiClassOverlayHandler", "SegmentationOverlayHandler"]


def _numpy(x) -> np.ndarray | None:
    """``x`` as a NumPy array without a copy where possible (bfloat16, which NumPy lacks, becomes float32)."""
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    return np.asarray(x)


def _case_name(engine: Engine, item: dict, image) -> str:
    """The image file's name, with the item's ``case_id`` (or the engine batch's first) when the name lacks it,
    and the page of a page of a stack."""
    meta = getattr(image, "meta", None) or {}
    source = meta.get("filename_or_obj", "")
    if isinstance(source, (list, tuple)):  # one file per channel
        source = source[0] if source else ""
    name = Path(str(source)).name if source else ""
    case = item.get("case_id")
    if case is None:
        batch = getattr(engine.state, "batch", None)
        first = batch[0] if isinstance(batch, (list, tuple)) and batch else batch
        case = first.get("case_id") if isinstance(first, dict) else None
    if isinstance(case, (list, tuple)):
        case = case[0] if case else None
    if "page" in meta and (not case or str(case) in name):  # one page of a stack (LoadTiffPaged)
        name += f" page {int(meta['page'])}"
    if case and str(case) not in name:
        name = f"{name}: {case}" if name else str(case)
    return name


class SegmentationOverlayHandler:
    """Evaluator handler: after each evaluation run, draw one case (image / ground truth / prediction).

    It keeps the first item of the run, picks the slice with the most ground-truth foreground (prediction
    if there is no label), writes ``<output_dir>/<tag>_epoch<E>.png`` and adds the figure to TensorBoard in
    ``log_dir`` under ``<tag>/overlay`` at step E (the trainer's epoch when run by a ValidationHandler). The
    picture names the channel and the classes as the data set does (pass ``channel_names`` and ``class_names``,
    e.g. ``"$@data#dataset.channel_names"``); a channel without a name is called ``channel 0``.

    Args:
        output_dir: folder of the PNG files.
        log_dir: TensorBoard log folder, or None for PNG only.
        tag: name used in file names and the TensorBoard tag.
        image_key, label_key, pred_key: keys of the decollated engine output items; ``label``/``pred`` are
            ``(1, *spatial)`` masks (binary) or label maps, or one-hot ``(C, *spatial)``.
        axis: spatial axis of the slices for 3D volumes (2 = axial).
        channel_names: the data set's names of the image channels (the first is shown).
        array_layout: ``"xy"`` (NIfTI-like volumes) or ``"rows_columns"`` (TIFF/PNG pages); see
            :func:`~engines.overlay.figures.overlay_figure`.
        class_names: class names, background first; default binary ``("background", "foreground")``.
        label_values: values of the classes in ``label``/``pred`` label maps when they are not ``0..C-1``
            (inference writes BraTS labels ``[0, 1, 2, 4]``); one-hot channels need none.
        per_class: a panel per predicted class (with 2+ foreground classes).
        regions: ``label``/``pred`` are ``(R, *spatial)`` region channels (nnU-Net's region-based labels, sigmoid
            outputs thresholded at 0.5; ``class_names`` = background + R region names), each region scored whole.
    """

    _tensorboard_name = "overlay"  # TensorBoard tag: <tag>/<this>

    def __init__(
        self,
        output_dir: str,
        log_dir: str | None = None,
        tag: str = "validation",
        image_key: str = "image",
        label_key: str = "label",
        pred_key: str = "pred",
        axis: int = 2,
        channel_names: Sequence[str] | None = None,
        array_layout: str = "xy",
        class_names: Sequence[str] | None = None,
        label_values: Sequence[int] | None = None,
        per_class: bool = False,
        regions: bool = False,
    ) -> None:
        names = list(BINARY_CLASSES if class_names is None else class_names)
        if len(names) < 2:
            raise ValueError(f"class_names must name the background and at least one class, got {names}.")
        if array_layout not in ("xy", "rows_columns"):
            raise ValueError(f"array_layout must be 'xy' or 'rows_columns', got {array_layout!r}.")
        self.output_dir = Path(output_dir)
        self.log_dir = log_dir
        self.tag = tag
        self.keys = (image_key, label_key, pred_key)
        self.axis = axis
        self.channel_names = None if channel_names is None else [str(c) for c in channel_names]
        self.array_layout = array_layout
        self.class_names = names
        self.label_values = None if label_values is None else [int(v) for v in label_values]
        self.per_class = per_class
        self.regions = regions
        self._item: dict | None = None
        self._writer = None
        self.logger = logging.getLogger(__name__)

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
        """``image`` (C, *spatial) and ``label``/``pred`` (channel-first, as the engine gives them) as NumPy arrays,
        no copies, and the case ``name``; :meth:`_draw` converts only the slice it draws."""
        image = item.get(self.keys[0])
        arrays = {key: _numpy(item.get(k)) for key, k in zip(("image", "label", "pred"), self.keys)}
        return {**arrays, "name": _case_name(engine, item, image)}

    def _classes(self, x: np.ndarray | None) -> np.ndarray | None:
        """Channel-first ``x`` -> the (*spatial) class-index map (regions: (R, *spatial) boolean masks)."""
        if x is None:
            return None
        if self.regions:
            return np.asarray(x) > 0.5
        return class_index_map(np.asarray(x, dtype=np.float32), self.label_values, len(self.class_names) == 2)

    def _slice_index(self, label: np.ndarray | None, pred: np.ndarray | None, image: np.ndarray) -> int:
        """The slice with the most ground-truth foreground (the prediction's if the label has none; the middle
        slice if neither has any), counted on the channel-first arrays (:func:`foreground_counts`)."""
        binary = len(self.class_names) == 2
        if label is not None:
            counts = foreground_counts(label, self.axis, self.label_values, binary, self.regions)
            if counts.any():
                return int(np.argmax(counts))
        if pred is not None:
            counts = foreground_counts(pred, self.axis, self.label_values, binary, self.regions)
            return int(np.argmax(counts)) if counts.any() else len(counts) // 2
        return pick_slice(image[0], axis=self.axis)

    def _draw(self, engine: Engine) -> None:
        if self._item is None or self._item["image"] is None:
            return
        image, label, pred = self._item["image"], self._item["label"], self._item["pred"]
        where = ""
        if image.ndim == 4:  # (C, X, Y, Z): choose a slice, then convert only that slice
            z = self._slice_index(label, pred, image)
            image, label, pred = (None if a is None else np.take(a, z, axis=self.axis + 1)
                                  for a in (image, label, pred))
            where = f" slice {z}"
        image = np.asarray(image, dtype=np.float32)
        label, pred = self._classes(label), self._classes(pred)
        epoch = engine.state.epoch
        fig = overlay_figure(
            image, label, pred, title=f"{self.tag} epoch {epoch}: {self._item['name']}{where}",
            channel_names=self.channel_names, class_names=self.class_names, array_layout=self.array_layout,
            per_class=self.per_class, regions=self.regions,
        )  # fmt: skip
        if self.log_dir is not None and self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=self.log_dir)
        path = self.output_dir / f"{self.tag}_epoch{epoch:03d}.png"
        save_figure(fig, path, self._writer, f"{self.tag}/{self._tensorboard_name}", step=epoch, dpi=90)
        if self._writer is not None:
            self._writer.flush()
        self.logger.info(f"{self.tag} picture: {path}")


class MultiClassOverlayHandler(SegmentationOverlayHandler):
    """:class:`SegmentationOverlayHandler` of a multi-class segmentation: a panel per predicted class and the
    composite (seed 001, Figure 3), each class's Dice in its panel and the legend; TensorBoard tag
    ``<tag>/classes``.

    Args:
        output_dir: folder of the PNG files.
        class_names: names of the classes, index 0 the background.
        log_dir, tag, channel_names, label_values, image_key, label_key, pred_key, axis, array_layout, regions: as
            :class:`SegmentationOverlayHandler`.
    """

    _tensorboard_name = "classes"

    def __init__(
        self,
        output_dir: str,
        class_names: Sequence[str],
        log_dir: str | None = None,
        tag: str = "validation",
        channel_names: Sequence[str] | None = None,
        label_values: Sequence[int] | None = None,
        image_key: str = "image",
        label_key: str = "label",
        pred_key: str = "pred",
        axis: int = 2,
        array_layout: str = "xy",
        regions: bool = False,
    ) -> None:
        super().__init__(
            output_dir=output_dir, log_dir=log_dir, tag=tag, image_key=image_key, label_key=label_key,
            pred_key=pred_key, axis=axis, channel_names=channel_names, array_layout=array_layout,
            class_names=class_names, label_values=label_values, per_class=True, regions=regions,
        )  # fmt: skip
