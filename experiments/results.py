"""The results table of a comparison (mean and sd over seeds) as CSV and Markdown, and its bar chart."""

from __future__ import annotations

import csv
import math
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["COLUMNS", "METRICS", "aggregate", "bar_chart", "markdown_table", "mean_sd", "write_results"]

# numbers averaged over the seeds of a row (mean and sd columns)
METRICS = [
    "best_val_iou", "best_val_dice", "test_iou", "test_dice", "test_accuracy", "final_train_loss",
    "train_time_per_epoch", "inference_time_per_case",
]
# columns of results.csv, in order
COLUMNS = [
    "group", "bundle", "variant", "loss", "seeds", "parameters", "epochs",
    *[f"{m}_{s}" for m in METRICS for s in ("mean", "sd")],
    "train_time_ratio",
]
_RUN_COLUMNS = ["name", "group", "bundle", "variant", "loss", "seed", "key", "parameters", "epochs", "best_epoch",
                *METRICS]


def mean_sd(values: Sequence[float | None]) -> tuple[float, float]:
    """Mean and sample standard deviation of ``values``, None and NaN left out (NaN when none, or the sd of one)."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else float("nan"))


def aggregate(results: Sequence[dict[str, Any]], baseline: str | None = None) -> list[dict[str, Any]]:
    """One row per ``group`` (bundle / variant / loss), runs of different seeds averaged, in first-seen order.

    ``train_time_ratio`` is the row's mean training time per epoch over the baseline row's. ``baseline`` is a
    group label or a bundle name (its first row); default: the first row.

    Raises:
        ValueError: ``baseline`` names no row (the message lists the rows).
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault(r["group"], []).append(r)
    rows = []
    for group, runs in groups.items():
        first = runs[0]
        row = {
            "group": group, "bundle": first["bundle"], "variant": first.get("variant", ""), "loss": first["loss"],
            "seeds": len(runs), "parameters": first["parameters"],
            "epochs": max(r["epochs"] for r in runs),
        }
        for m in METRICS:
            row[f"{m}_mean"], row[f"{m}_sd"] = mean_sd([r.get(m, float("nan")) for r in runs])
        rows.append(row)
    if not rows:
        return rows
    if baseline is None:
        base = rows[0]
    else:
        matches = [r for r in rows if r["group"] == baseline] or [r for r in rows if r["bundle"] == baseline]
        if not matches:
            raise ValueError(f"baseline {baseline!r} is not a row; rows: {[r['group'] for r in rows]}.")
        base = matches[0]
    for row in rows:
        row["train_time_ratio"] = row["train_time_per_epoch_mean"] / base["train_time_per_epoch_mean"]
    return rows


def _fmt(mean: float, sd: float, digits: int = 4) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.{digits}f}" if math.isnan(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _label(row: dict[str, Any]) -> str:
    """Short name of a row: bundle, (variant), loss unless it is the bundle's own."""
    parts = [row["bundle"] + (f" ({row['variant']})" if row["variant"] else "")]
    if row["loss"] != "bundle":
        parts.append(row["loss"])
    return " ".join(parts)


def markdown_table(rows: Sequence[dict[str, Any]], baseline_label: str | None = None) -> str:
    """The Markdown table of :func:`aggregate` rows (mean ± sd where a row has several seeds)."""
    base_row = next((r for r in rows if r["group"] == baseline_label), rows[0] if rows else None)
    base = _label(base_row) if base_row else ""
    head = (
        "| bundle | loss | parameters | seeds | epochs | best val IoU | best val Dice | test IoU | test Dice | "
        f"train s/epoch | train time vs {base} | inference s/case |"
    )
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        name = r["bundle"] + (f" ({r['variant']})" if r["variant"] else "")
        loss = "bundle's own" if r["loss"] == "bundle" else r["loss"]
        lines.append(
            f"| {name} | {loss} | {r['parameters']:,} | {r['seeds']} | {r['epochs']} | "
            f"{_fmt(r['best_val_iou_mean'], r['best_val_iou_sd'])} | "
            f"{_fmt(r['best_val_dice_mean'], r['best_val_dice_sd'])} | "
            f"{_fmt(r['test_iou_mean'], r['test_iou_sd'])} | {_fmt(r['test_dice_mean'], r['test_dice_sd'])} | "
            f"{_fmt(r['train_time_per_epoch_mean'], r['train_time_per_epoch_sd'], 1)} | {r['train_time_ratio']:.2f}x | "
            f"{_fmt(r['inference_time_per_case_mean'], r['inference_time_per_case_sd'], 3)} |"
        )
    return "\n".join(lines) + "\n"


def bar_chart(rows: Sequence[dict[str, Any]], metric: str, path: str | os.PathLike, title: str = "") -> Path:
    """Bar chart of ``<metric>_mean`` per row with ``<metric>_sd`` error bars (where several seeds); PNG at ``path``.

    Raises:
        KeyError: ``metric`` is neither one of :data:`METRICS` nor a ``<metric>_mean`` key of every row (the message
            lists the metrics).
    """
    if metric not in METRICS and not (rows and all(f"{metric}_mean" in r for r in rows)):
        raise KeyError(f"metric {metric!r} is not a results column; valid: {METRICS}.")
    labels = [_label(r) for r in rows]
    means = [r[f"{metric}_mean"] for r in rows]
    sds = [0.0 if math.isnan(r[f"{metric}_sd"]) else r[f"{metric}_sd"] for r in rows]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(rows) + 1.5), 3.6))
    bars = ax.bar(range(len(rows)), means, yerr=sds, capsize=4, color="#4c72b0")
    for bar, m in zip(bars, means):
        if not math.isnan(m):
            ax.annotate(f"{m:.3f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                        fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(rows)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(metric.replace("_", " "))
    if metric.endswith(("iou", "dice", "accuracy")):
        ax.set_ylim(0, 1.05)
    ax.set_title(title or f"{metric.replace('_', ' ')} per variant (mean ± sd over seeds)", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_results(
    results: Sequence[dict[str, Any]], exp_dir: str | os.PathLike, baseline: str | None = None,
    metric: str = "test_dice",
) -> list[dict[str, Any]]:
    """Write ``results.csv``, ``results.md``, ``runs.csv`` and ``<metric>.png`` into ``exp_dir``; return the rows."""
    exp_dir = Path(exp_dir)
    rows = aggregate(results, baseline)
    with open(exp_dir / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with open(exp_dir / "runs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=_RUN_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(results)
    base = next((r["group"] for r in rows if baseline in (r["group"], r["bundle"])), None) if baseline else None
    (exp_dir / "results.md").write_text(markdown_table(rows, base))
    if rows:
        bar_chart(rows, metric, exp_dir / f"{metric}.png")
    return rows
