"""The one place that draws segmentations: colours (:mod:`.colours`), the figure of a slice with its channel and
class names and each class's Dice (:mod:`.figures`), and the Ignite handlers that write it as PNG and to
TensorBoard (:mod:`.handlers`). ``experiments.pictures`` composes its per-case pictures from the same functions."""

from __future__ import annotations

from .colours import CLASS_COLOURS, FN_COLOUR, FP_COLOUR, TP_COLOUR, class_colour
from .figures import (
    ARRAY_LAYOUTS,
    BINARY_CLASSES,
    channel_name,
    class_dice,
    class_index_map,
    class_rgba,
    draw_outline,
    draw_slice,
    error_legend,
    error_overlay,
    error_rgba,
    foreground_counts,
    overlay_figure,
    pick_slice,
    region_index_map,
    save_figure,
    window,
)
from .handlers import MultiClassOverlayHandler, SegmentationOverlayHandler

__all__ = [
    "ARRAY_LAYOUTS",
    "BINARY_CLASSES",
    "CLASS_COLOURS",
    "FN_COLOUR",
    "FP_COLOUR",
    "MultiClassOverlayHandler",
    "SegmentationOverlayHandler",
    "TP_COLOUR",
    "channel_name",
    "class_colour",
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
    "save_figure",
    "window",
]
