"""Print what the demo produced: validation metrics, and where the checkpoint, logs, CSV, NIfTI and pictures are.

Exits with status 1 when the mean validation Dice is below ``--min_dice`` (the model did not learn).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


def read_metrics(path: Path) -> dict[str, float]:
    """Read MONAI MetricsSaver's ``metrics.csv`` (one ``name,value`` row per metric)."""
    values = {}
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if len(row) >= 2:
                try:
                    values[row[0]] = float(row[1])
                except ValueError:
                    continue
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="runs/demo", help="demo output folder")
    parser.add_argument("--min_dice", type=float, default=0.80, help="fail below this mean validation Dice")
    args = parser.parse_args()
    out = Path(args.out)
    metrics_file = out / "eval" / "metrics.csv"
    if not metrics_file.is_file():
        print(f"no evaluation results: {metrics_file} is missing", file=sys.stderr)
        return 1
    metrics = read_metrics(metrics_file)
    dice, iou = metrics.get("val_mean_dice", float("nan")), metrics.get("val_mean_iou", float("nan"))
    print("\n================ demo results ================")
    print(f"validation mean Dice: {dice:.4f}   (target >= {args.min_dice:.2f})")
    print(f"validation mean IoU:  {iou:.4f}")
    print(f"per-case metrics:     {out / 'eval' / 'val_mean_dice_raw.csv'}, {out / 'eval' / 'val_mean_iou_raw.csv'}")
    print(f"best checkpoint:      {out / 'models' / 'model.pt'}")
    print(f"TensorBoard logs:     {out / 'train'}   (tensorboard --logdir {out})")
    for nifti in sorted((out / "pred").glob("*_seg.nii.gz")):
        print(f"predicted label map:  {nifti}")
    for step in ("train", "eval", "pred"):  # the latest picture of each step
        pictures = sorted((out / step / "pictures").glob("*.png"))
        if pictures:
            label = f"picture ({step}):"
            print(f"{label:<22}{pictures[-1]}")
    if not dice >= args.min_dice:
        print(f"FAILED: mean validation Dice {dice:.4f} < {args.min_dice}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
