"""The pictures people look at when comparing segmentation models, as PNG files and in TensorBoard.

* per case: every input modality, ground truth, prediction and an error overlay (true positives green, false
  positives red, false negatives blue) -- seed 000's appendix, seed 001's Figure 3; for label maps with several
  classes, class-by-class masks and a composite;
* training curves (loss, IoU, Dice, accuracy; train and validation) from the TensorBoard logs -- seed 001 Fig. 2;
* saliency per input modality: the gradient of the predicted tumour logits with respect to each input channel
  (``monai.visualize.VanillaGrad``) -- seed 000 Fig. 7;
* a gallery of the worst and best test cases by Dice of an evaluation run.

Images are ``(C, X, Y)`` slices (labels ``(X, Y)``) in the bundles' array order and are drawn transposed with
the origin at the bottom, as ``engines.overlay`` draws them.
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
from matplotlib.patches import Patch  # noqa: E402

__all__ = [
    "FN_COLOUR",
    "FP_COLOUR",
    "TP_COLOUR",
    "RegionScore",
    "case_figure",
    "curves_figure",
    "draw_pictures",
    "error_overlay",
    "gallery_figure",
    "run_pictures",
    "saliency",
    "saliency_figure",
    "save_figure",
    "select_gallery",
]

TP_COLOUR = (0.15, 0.8, 0.15)
FP_COLOUR = (1.0, 0.15, 0.15)
FN_COLOUR = (0.15, 0.45, 1.0)
MSD_TASK01_CHANNELS = ("FLAIR", "T1w", "T1gd", "T2w")
# (title, train tag, validation tag) of the curve panels; tags as the bundles log them (train_2d.yaml)
CURVES = (
    ("loss", "train_epoch_loss", "val_loss"),
    ("IoU", "train_mean_iou", "val_mean_iou"),
    ("Dice", "train_mean_dice", "val_mean_dice"),
    ("pixel accuracy", "train_accuracy", "val_accuracy"),
)


def _grey(image: np.ndarray) -> np.ndarray:
    """(X, Y) intensities scaled to [0, 1] between their 1st and 99th percentile."""
    image = np.asarray(image, dtype=float)
    lo, hi = np.percentile(image, [1, 99]) if image.size else (0.0, 1.0)
    return np.clip((image - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)


def _binary(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if mask is None:
        return np.zeros(shape, dtype=bool)
    mask = np.squeeze(np.asarray(mask)) > 0.5
    if mask.shape != shape:
        raise ValueError(f"mask shape {mask.shape} differs from the image slice shape {shape}.")
    return mask


def error_overlay(image: np.ndarray, label: np.ndarray, pred: np.ndarray, alpha: float = 0.7) -> np.ndarray:
    """RGB picture of a binary prediction against the ground truth over a grey image.

    Args:
        image: (X, Y) intensities (one modality).
        label: (X, Y) or (1, X, Y) binary ground truth.
        pred: (X, Y) or (1, X, Y) binary prediction.
        alpha: opacity of the colours.

    Returns:
        (X, Y, 3) floats in [0, 1]: true positives :data:`TP_COLOUR`, false positives :data:`FP_COLOUR`, false
        negatives :data:`FN_COLOUR` blended over the grey image; true negatives grey.
    """
    grey = _grey(image)
    truth, guess = _binary(label, grey.shape), _binary(pred, grey.shape)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    for mask, colour in ((truth & guess, TP_COLOUR), (guess & ~truth, FP_COLOUR), (truth & ~guess, FN_COLOUR)):
        rgb[mask] = (1 - alpha) * rgb[mask] + alpha * np.asarray(colour)
    return rgb


def _dice(label: np.ndarray, pred: np.ndarray) -> float:
    denom = label.sum() + pred.sum()
    return float(2.0 * np.logical_and(label, pred).sum() / denom) if denom else 1.0


def _show(ax, picture: np.ndarray, title: str, cmap: str | None = "gray", **kwargs) -> None:
    picture = np.asarray(picture)
    ax.imshow(np.swapaxes(picture, 0, 1), cmap=cmap, origin="lower", **kwargs)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def _mask_over(grey: np.ndarray, mask: np.ndarray, colour: Sequence[float], alpha: float = 0.6) -> np.ndarray:
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    rgb[mask] = (1 - alpha) * rgb[mask] + alpha * np.asarray(colour)
    return rgb


def _legend(fig, tp: int, fp: int, fn: int) -> None:
    handles = [
        Patch(color=TP_COLOUR, label=f"true positive ({tp} px)"),
        Patch(color=FP_COLOUR, label=f"false positive ({fp} px)"),
        Patch(color=FN_COLOUR, label=f"false negative ({fn} px)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=7, frameon=False)


def case_figure(
    image: np.ndarray,
    label: np.ndarray | None,
    pred: np.ndarray,
    channel_names: Sequence[str] = MSD_TASK01_CHANNELS,
    title: str = "",
):
    """One case: each input modality, ground truth, prediction and the error overlay, in one row.

    Args:
        image: (C, X, Y) slice, one panel per channel.
        label: (X, Y) binary ground truth, or None (no truth and no error panel).
        pred: (X, Y) binary prediction.
        channel_names: names of the C channels (extra channels are numbered).
        title: figure title.

    Returns:
        ``matplotlib.figure.Figure`` (the caller closes it, e.g. with :func:`save_figure`).
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must be a (C, X, Y) slice, got shape {image.shape}.")
    names = [channel_names[c] if c < len(channel_names) else f"channel {c}" for c in range(image.shape[0])]
    grey = _grey(image[0])
    guess = _binary(pred, grey.shape)
    panels = [(img, name, "gray") for img, name in zip(image, names)]
    if label is not None:
        truth = _binary(label, grey.shape)
        panels.append((_mask_over(grey, truth, (1.0, 0.85, 0.1)), "ground truth", None))
    panels.append((_mask_over(grey, guess, (1.0, 0.85, 0.1)), "prediction", None))
    if label is not None:
        panels.append((error_overlay(image[0], truth, guess), f"errors (slice Dice {_dice(truth, guess):.3f})", None))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.0 * len(panels), 2.6), squeeze=False)
    for ax, (picture, name, cmap) in zip(axes[0], panels):
        _show(ax, _grey(picture) if cmap else picture, name, cmap)
    if label is not None:
        _legend(fig, int((truth & guess).sum()), int((guess & ~truth).sum()), int((truth & ~guess).sum()))
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.07 if label is not None else 0, 1, 1))
    return fig


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


def saliency_figure(image: np.ndarray, grads: np.ndarray, channel_names: Sequence[str] = MSD_TASK01_CHANNELS,
                    label: np.ndarray | None = None, title: str = ""):
    """Each modality above its saliency map (the ground-truth outline drawn on both when given)."""
    image, grads = np.asarray(image), np.asarray(grads)
    c = image.shape[0]
    fig, axes = plt.subplots(2, c, figsize=(2.2 * c, 4.6), squeeze=False)
    for i in range(c):
        name = channel_names[i] if i < len(channel_names) else f"channel {i}"
        _show(axes[0, i], _grey(image[i]), name)
        _show(axes[1, i], grads[i], f"|d score / d {name}|", cmap="inferno", vmin=0, vmax=max(grads.max(), 1e-12))
        if label is not None and np.asarray(label).any():
            for ax in axes[:, i]:
                ax.contour(np.swapaxes(np.asarray(label) > 0.5, 0, 1).astype(float), levels=[0.5], colors="cyan",
                           linewidths=0.6, origin="lower")
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
    """One row per case: the first modality and its error overlay, titled with the case's Dice.

    Args:
        cases: dictionaries with ``name``, ``dice``, ``group`` (e.g. "worst"/"best"), ``image`` (C, X, Y) slice,
            ``label`` and ``pred`` (X, Y) binary.
    """
    fig, axes = plt.subplots(len(cases), 2, figsize=(4.6, 2.3 * len(cases) + 0.4), squeeze=False)
    for row, case in zip(axes, cases):
        _show(row[0], _grey(np.asarray(case["image"])[0]), f"{case['group']}: {case['name']}")
        _show(row[1], error_overlay(np.asarray(case["image"])[0], case["label"], case["pred"]),
              f"case Dice {case['dice']:.3f}", cmap=None)
    _legend(fig, 0, 0, 0)
    for text in fig.legends[0].get_texts():
        text.set_text(text.get_text().split(" (")[0])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def save_figure(
    fig, path: str | os.PathLike, writer=None, tag: str | None = None, step: int = 0, dpi: int = 80
) -> Path:
    """Write ``fig`` as PNG at ``path`` and, with a TensorBoard ``writer``, as image ``tag``; close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    if writer is not None:
        writer.add_figure(tag or path.stem, fig, global_step=step, close=False)
    plt.close(fig)
    return path


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

    from engines import pick_slice
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
    try:
        with open(Path(parser.get_parsed_content("dataset_dir")) / "dataset.json") as f:
            names = [v for _, v in sorted(json.load(f).get("modality", {}).items(), key=lambda kv: int(kv[0]))]
    except (OSError, ValueError, KeyError):
        names = []
    names = names or list(MSD_TASK01_CHANNELS)
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
                          "pred": pred[..., z] > 0.5, "dice": _dice(label > 0.5, pred > 0.5), "z": z}
        fig = case_figure(image[..., z], label[..., z], pred[..., z], names,
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
