"""The pictures people look at when comparing segmentation models, as PNG files and in TensorBoard.

* per case: every input channel (named as the data set names it), ground truth, prediction and an error overlay
  (true positives, false positives, false negatives) -- seed 000's appendix, seed 001's Figure 3;
* training curves (loss, IoU, Dice, accuracy; train and validation) from the TensorBoard logs -- seed 001 Fig. 2;
* saliency per input modality: the gradient of the predicted tumour logits with respect to each input channel
  (``monai.visualize.VanillaGrad``) -- seed 000 Fig. 7;
* a gallery of the worst and best test cases by Dice of an evaluation run.

Images are ``(C, X, Y)`` slices (labels ``(X, Y)``) in the bundles' array order. Every slice, mask, colour and Dice
of these pictures comes from :mod:`engines.overlay`, the module the bundles' picture handlers draw with.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from engines.overlay import (  # noqa: E402
    channel_name,
    class_colour,
    class_dice,
    draw_outline,
    draw_slice,
    error_legend,
    error_rgba,
    overlay_figure,
    pick_slice,
    save_figure,
)

__all__ = [
    "RegionScore",
    "case_figure",
    "curves_figure",
    "draw_pictures",
    "gallery_figure",
    "run_pictures",
    "saliency",
    "saliency_figure",
    "save_figure",
    "select_gallery",
]

# (title, train tag, validation tag) of the curve panels; tags as the bundles log them (train_2d.yaml)
CURVES = (
    ("loss", "train_epoch_loss", "val_loss"),
    ("IoU", "train_mean_iou", "val_mean_iou"),
    ("Dice", "train_mean_dice", "val_mean_dice"),
    ("pixel accuracy", "train_accuracy", "val_accuracy"),
)


def case_figure(
    image: np.ndarray,
    label: np.ndarray | None,
    pred: np.ndarray,
    channel_names: Sequence[str] | None = None,
    title: str = "",
    class_names: Sequence[str] | None = None,
):
    """One case: each input channel, ground truth, prediction and the error overlay, in one row
    (:func:`engines.overlay.overlay_figure` with every channel and the error panel).

    Args:
        image: (C, X, Y) slice, one panel per channel.
        label: (X, Y) ground truth (binary mask, or class indices with ``class_names``), or None (no truth and no
            error panel).
        pred: (X, Y) prediction, alike.
        channel_names: the data set's names of the C channels (missing ones are numbered).
        title: figure title.
        class_names: class names, background first; None: binary.

    Returns:
        ``matplotlib.figure.Figure`` (the caller closes it, e.g. with :func:`save_figure`).
    """
    return overlay_figure(image, label, pred, title=title, channel_names=channel_names, class_names=class_names,
                          channels="all", errors=True, channel_title="{}")


def curves_figure(scalars: Mapping[str, Sequence[tuple[int, float]]], title: str = ""):
    """Training curves per epoch, train and validation, in four panels (loss, IoU, Dice, pixel accuracy).

    Args:
        scalars: ``{tag: [(epoch, value), ...]}`` as :func:`experiments.tensorboard.read_scalars` returns for a
            training log folder; tags of :data:`CURVES` that are missing leave their line out.
        title: figure title.
    """
    fig, axes = plt.subplots(1, len(CURVES), figsize=(3.2 * len(CURVES), 2.8), squeeze=False)
    for ax, (name, train_tag, val_tag) in zip(axes[0], CURVES):
        for tag, label, style in ((train_tag, "train", "-o"), (val_tag, "validation", "-s")):
            series = scalars.get(tag, [])
            if series:
                steps, values = zip(*series)
                ax.plot(steps, values, style, markersize=3, label=label)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


class RegionScore(torch.nn.Module):
    """``network`` reduced to one score per item: the sum of output channel ``channel`` over ``region``.

    Turns a segmentation network into the ``(B, 1)`` "class score" that MONAI's gradient-based saliency
    (``monai.visualize.VanillaGrad``, written for classifiers) back-propagates.

    Args:
        network: segmentation network, ``(B, C_in, *spatial) -> (B, C_out, *spatial)`` (logits).
        region: ``spatial`` boolean mask (or None: every pixel).
        channel: output channel scored.
    """

    def __init__(self, network: torch.nn.Module, region: torch.Tensor | None = None, channel: int = 0) -> None:
        super().__init__()
        self.network = network
        self.channel = channel
        self.register_buffer("region", None if region is None else region.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.network(x)[:, self.channel]
        if self.region is not None:
            out = out * self.region
        return out.flatten(1).sum(1, keepdim=True)


def saliency(
    network: torch.nn.Module, image: torch.Tensor | np.ndarray, region: np.ndarray | torch.Tensor | None = None
) -> np.ndarray:
    """Gradient of the network's output summed over ``region`` with respect to each input channel (seed 000 Fig. 7).

    Args:
        network: segmentation network (logits), run in eval mode.
        image: (C, *spatial) input slice.
        region: spatial boolean mask of the pixels whose logits are summed (e.g. the predicted tumour); None or
            empty: every pixel.

    Returns:
        (C, *spatial) absolute gradient, one map per input modality.
    """
    from monai.visualize import VanillaGrad

    x = torch.as_tensor(np.asarray(image), dtype=torch.float32)[None]
    device = next(network.parameters()).device
    region_t = None
    if region is not None and np.asarray(region).any():
        region_t = torch.as_tensor(np.asarray(region) > 0.5, device=device)
    scorer = RegionScore(network, region_t).to(device)
    grad = VanillaGrad(scorer)(x.to(device).contiguous(), index=0)
    return grad[0].abs().cpu().numpy()


def saliency_figure(image: np.ndarray, grads: np.ndarray, channel_names: Sequence[str] | None = None,
                    label: np.ndarray | None = None, title: str = ""):
    """Each channel above its saliency map (the ground-truth outline drawn on both when given).

    Args:
        image: (C, X, Y) slice.
        grads: (C, X, Y) saliency of each channel (:func:`saliency`).
        channel_names: the data set's channel names (missing ones are numbered).
        label: (X, Y) binary ground truth, or None.
        title: figure title.
    """
    image, grads = np.asarray(image), np.asarray(grads)
    c = image.shape[0]
    fig, axes = plt.subplots(2, c, figsize=(2.2 * c, 4.6), squeeze=False)
    top = max(float(grads.max()), 1e-12)
    for i in range(c):
        name = channel_name(channel_names, i)
        draw_slice(axes[0, i], image[i], name)
        draw_slice(axes[1, i], grads[i], f"|d score / d {name}|", cmap="inferno", vmin=0.0, vmax=top)
        if label is not None:
            for ax in axes[:, i]:
                draw_outline(ax, np.asarray(label) > 0.5, class_colour(1), linewidth=0.6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def select_gallery(dice: Mapping[str, float], k: int) -> tuple[list[str], list[str]]:
    """The ``k`` worst and ``k`` best cases by Dice (worst first; best first), without overlap.

    With fewer than ``2 k`` cases the best list gets what the worst list left. NaN Dice values are skipped.
    """
    ranked = sorted((d, name) for name, d in dice.items() if d == d)
    worst = [name for _, name in ranked[:k]]
    best = [name for _, name in reversed(ranked[k:])][:k]
    return worst, best


def gallery_figure(cases: Sequence[Mapping[str, Any]], title: str = ""):
    """One row per case: the first channel and its error overlay, titled with the case's Dice.

    Args:
        cases: dictionaries with ``name``, ``dice``, ``group`` (e.g. "worst"/"best"), ``image`` (C, X, Y) slice,
            ``label`` and ``pred`` (X, Y) binary.
    """
    fig, axes = plt.subplots(len(cases), 2, figsize=(4.6, 2.3 * len(cases) + 0.4), squeeze=False)
    for row, case in zip(axes, cases):
        first = np.asarray(case["image"])[0]
        truth, guess = (np.asarray(case[k]) > 0.5 for k in ("label", "pred"))
        draw_slice(row[0], first, f"{case['group']}: {case['name']}")
        draw_slice(row[1], first, f"case Dice {case['dice']:.3f}", layers=[error_rgba(truth, guess)])
    error_legend(fig)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def _channel_names(parser) -> list[str] | None:
    """The data set's channel names (``data#dataset``, the format's :class:`~formats.DatasetSpec`), or None when
    the config declares no data set."""
    if "dataset" not in (parser.get("data") or {}):
        return None
    return list(parser.get_parsed_content("data#dataset").channel_names)


def _read_case_dice(csv_path: Path) -> dict[str, float]:
    """Case id -> Dice from MetricsSaver's ``val_mean_dice_raw.csv`` (first column the image file)."""
    from data.headers import case_id_from_path

    dice = {}
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            dice[case_id_from_path(row["filename"])] = float(row["mean"])
    return dice


def draw_pictures(
    config_files: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    train_dir: str | os.PathLike | None = None,
    eval_dir: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
    title: str = "",
    num_gallery: int = 2,
    log_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Pictures of a trained bundle: curves, each evaluated case, the gallery and a saliency map.

    The network, the evaluation cases (``data#val_dataset``), the inferer and the post-processing are the
    bundle's own (``config_files`` of an ``evaluate.yaml``, with ``overrides``); the best checkpoint
    ``<ckpt_dir>/model.pt`` is re-run in-process. Per case the slice with the most tumour is drawn; the gallery
    orders cases by the evaluation run's per-case Dice (``<eval_dir>/val_mean_dice_raw.csv``, else our own);
    the saliency is that of the best case.

    Args:
        config_files: the bundle's evaluate config list (paths as the bundle expects them, run from the repo root).
        out_dir: folder of the PNG files.
        train_dir: the training's TensorBoard log folder (curves); None: no curves.
        eval_dir: the evaluation run's output folder (per-case CSV); None: Dice computed here.
        overrides: top-level config keys (``ckpt_dir``, ``dataset_dir``, ...).
        title: prefix of the figure titles.
        num_gallery: cases in each half of the gallery.
        log_dir: TensorBoard folder for the same images (default ``train_dir``; None and no train_dir: PNG only).

    Returns:
        Paths of the PNG files written.
    """
    from monai.bundle import ConfigParser
    from torch.utils.tensorboard import SummaryWriter

    from experiments.tensorboard import read_scalars

    out = Path(out_dir)
    log_dir = log_dir or train_dir
    writer = SummaryWriter(log_dir=str(log_dir)) if log_dir is not None else None
    written = []
    if train_dir is not None:
        written.append(save_figure(curves_figure(read_scalars(train_dir), title=title), out / "curves.png", writer,
                                   "pictures/curves"))
    parser = ConfigParser()
    parser.read_config([str(f) for f in config_files])
    parser.update(dict(overrides or {}))
    network = parser.get_parsed_content("network")
    device = next(network.parameters()).device
    ckpt = Path(parser.get_parsed_content("ckpt_dir")) / "model.pt"
    network.load_state_dict(torch.load(ckpt, map_location=device, weights_only=True))
    network.eval()
    dataset = parser.get_parsed_content("data#val_dataset")
    inferer = parser.get_parsed_content("validate#slice_inferer")
    post = parser.get_parsed_content("validate#postprocessing")
    names = _channel_names(parser)
    classes = parser.get_parsed_content("class_names") if "class_names" in parser.config else None
    classes = list(classes) if classes is not None and len(classes) == 2 else None  # these pictures are binary
    prefix = f"{title}: " if title else ""
    cases = {}
    for item in dataset:
        with torch.no_grad():
            logits = inferer(item["image"][None].to(device), network)
        pred = post({"pred": logits[0], "label": item["label"]})["pred"]
        image, label, pred = (np.asarray(torch.as_tensor(a).cpu()) for a in (item["image"], item["label"][0], pred[0]))
        z = pick_slice(label if label.any() else pred, axis=-1)
        case_id = item.get("case_id") or Path(str(item["image"].meta.get("filename_or_obj", "case"))).name
        cases[case_id] = {"name": case_id, "image": image[..., z], "label": label[..., z] > 0.5,
                          "pred": pred[..., z] > 0.5, "dice": class_dice(label > 0.5, pred > 0.5, 2)[0], "z": z}
        fig = case_figure(image[..., z], label[..., z], pred[..., z], names, class_names=classes,
                          title=f"{prefix}{case_id} slice {z} (case Dice {cases[case_id]['dice']:.3f})")
        written.append(save_figure(fig, out / f"case_{case_id}.png", writer, f"pictures/case/{case_id}"))
    csv_path = Path(eval_dir) / "val_mean_dice_raw.csv" if eval_dir is not None else None
    dice = _read_case_dice(csv_path) if csv_path is not None and csv_path.is_file() else {}
    dice = {k: v for k, v in dice.items() if k in cases} or {k: v["dice"] for k, v in cases.items()}
    worst, best = select_gallery(dice, num_gallery)
    chosen = [{**cases[n], "dice": dice[n], "group": "worst"} for n in worst] + \
             [{**cases[n], "dice": dice[n], "group": "best"} for n in best]
    if chosen:
        written.append(save_figure(gallery_figure(chosen, title=f"{prefix}cases by Dice"), out / "gallery.png",
                                   writer, "pictures/gallery"))
        focus = cases[(best or worst)[0]]
        grads = saliency(network, focus["image"], focus["pred"] if focus["pred"].any() else focus["label"])
        fig = saliency_figure(focus["image"], grads, names, focus["label"],
                              title=f"{prefix}saliency, {focus['name']} slice {focus['z']}")
        written.append(save_figure(fig, out / "saliency.png", writer, "pictures/saliency"))
    if writer is not None:
        writer.close()
    return written


def run_pictures(run_dir: str | os.PathLike, num_gallery: int = 2, root: str | os.PathLike = ".") -> list[Path]:
    """All pictures of one comparison run (``experiments.runner`` layout): :func:`draw_pictures` with the run's
    evaluate configs and override file (the held-out test cases), into ``<run_dir>/pictures`` and its TensorBoard
    log (``<run_dir>/train``)."""
    from experiments.matrix import config_files

    run_dir, root = Path(run_dir).absolute(), Path(root).absolute()
    spec = json.loads((run_dir / "spec.json").read_text())
    files = [root / f for f in config_files(spec["bundle"], "evaluate", root)] + [run_dir / "evaluate.yaml"]
    with contextlib.chdir(root):  # the bundle configs name their shared YAML relative to the repository root
        return draw_pictures(files, run_dir / "pictures", run_dir / "train", run_dir / "test_eval",
                             title=spec["group"], num_gallery=num_gallery)
