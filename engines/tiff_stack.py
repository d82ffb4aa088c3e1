"""Write per-page predictions back as multi-page TIFF stacks, the format of the ISBI 2012 challenge (seed 002)."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events

from data.headers import image_suffix

__all__ = ["PageStackWriter", "stack_stem"]


def stack_stem(path: str | Path) -> str:
    """File name without its image suffix (``.nii.gz`` counts as one): ``a/test-volume.tif`` -> ``test-volume``."""
    name = Path(str(path)).name
    suffix = image_suffix(name)
    return name[: len(name) - len(suffix)] if suffix else name


def _page_array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().float().numpy()
    array = np.asarray(x)
    if array.ndim == 3 and array.shape[0] == 1:  # (1, rows, columns) channel-first
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"expected one 2D page (1, rows, columns), got shape {array.shape}.")
    return array


class PageStackWriter:
    """Evaluator handler: collect the predicted pages of each input stack, write them as TIFF stacks when the run ends.

    Every output item of the engine must hold the probability (``prob_key``, e.g. the sigmoid output) and the
    thresholded label (``pred_key``), each (1, rows, columns), and an ``image_key`` ``MetaTensor`` whose meta data
    name the stack (``filename_or_obj``) and the page (``page``), as :class:`formats.isbi2012.readers.LoadTiffPaged` sets
    them. At the end of the run, for each input stack ``<stem>.<ext>``:

    - ``<output_dir>/<stem>_prob.tif``: float32 pages of the probability (of label 1; for ISBI 2012, of *cell*);
    - ``<output_dir>/<stem>_seg.tif``: uint8 pages ``label * label_scale`` (255 = cell, 0 = membrane: the
      format of ``train-labels.tif``);

    pages in page order, one per inferred page (when only some pages of a stack are inferred, the TIFF description
    lists which: ``{"source": "<input name>", "pages": [...]}``, read back by ``tifffile.TiffFile.shaped_metadata``).

    Args:
        output_dir: folder of the stacks (created).
        prob_key, pred_key, image_key: keys of the decollated engine output items.
        label_scale: factor of the label pages (255: 0/255 as the data set's labels; 1: 0/1).
        prob_postfix, seg_postfix: file name postfixes.
    """

    def __init__(
        self,
        output_dir: str | Path,
        prob_key: Hashable = "prob",
        pred_key: Hashable = "pred",
        image_key: Hashable = "image",
        label_scale: int = 255,
        prob_postfix: str = "prob",
        seg_postfix: str = "seg",
    ) -> None:
        if not 1 <= int(label_scale) <= 255:
            raise ValueError(f"label_scale must be in [1, 255] (uint8 pages), got {label_scale}.")
        self.output_dir = Path(output_dir)
        self.prob_key, self.pred_key, self.image_key = prob_key, pred_key, image_key
        self.label_scale = int(label_scale)
        self.postfixes = (prob_postfix, seg_postfix)
        self._pages: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
        self.written: list[Path] = []
        self.logger = logging.getLogger(__name__)

    def attach(self, engine: Engine) -> None:
        """Register with an evaluator ``engine``."""
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._write)

    def _reset(self, engine: Engine) -> None:
        self._pages = {}

    def add(self, item: Mapping) -> None:
        """Keep the pages of one output item (called for every item of every iteration)."""
        for key in (self.prob_key, self.pred_key, self.image_key):
            if key not in item:
                raise KeyError(f"PageStackWriter: an output item has no {key!r} (keys: {sorted(map(str, item))}).")
        meta = getattr(item[self.image_key], "meta", None) or {}
        if "filename_or_obj" not in meta or "page" not in meta:
            raise KeyError(
                f"PageStackWriter: the {self.image_key!r} meta data need 'filename_or_obj' and 'page' "
                "(load pages with formats.isbi2012.readers.LoadTiffPaged)."
            )
        source, page = str(meta["filename_or_obj"]), int(meta["page"])
        pages = self._pages.setdefault(source, {})
        if page in pages:
            raise ValueError(f"{source}: page {page} was inferred twice in one run.")
        pages[page] = (_page_array(item[self.prob_key]).astype(np.float32), _page_array(item[self.pred_key]))

    def _collect(self, engine: Engine) -> None:
        output = engine.state.output
        for item in output if isinstance(output, (list, tuple)) else [output]:
            self.add(item)

    def _write(self, engine: Engine | None = None) -> None:
        import tifffile

        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.written = []
        for source, pages in self._pages.items():
            order = sorted(pages)
            prob = np.stack([pages[p][0] for p in order])
            seg = np.stack([(pages[p][1] > 0.5).astype(np.uint8) * self.label_scale for p in order])
            description = {"source": Path(source).name, "pages": order}
            stem = stack_stem(source)
            for postfix, array in zip(self.postfixes, (prob, seg)):
                path = self.output_dir / f"{stem}_{postfix}.tif"
                tifffile.imwrite(path, array, photometric="minisblack", metadata=description)
                self.written.append(path)
                self.logger.info(f"wrote {path} ({len(order)} page(s) of {array.shape[1]}x{array.shape[2]})")
