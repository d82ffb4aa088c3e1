#!/usr/bin/env python
"""Find the best configuration the way nnU-Net does: every architecture bundle x 2D / 3D of the generic path is
trained on every fold of a k-fold cross-validation by case, scored on its out-of-fold predictions (Dice per class,
mean over cases and classes), keeping the largest connected component is decided per class on those predictions
(only where it raises the held-out Dice), and the configurations are ranked by cross-validation Dice. Run from the
repository root:

    python scripts/find_best_configuration.py --dataset_dir /data/Dataset001_Heart --bundles unet attention_unet \\
        --spatial_dims 2 3 --num_folds 5 --work_dir runs/best/heart --epochs 50 --plan#features 16

Arguments after the known ones (``--epochs 50 --iterations_per_epoch 25 --time_limit 120 --plan#features 16 ...``)
are passed to every training and prediction command. Prints a progress line per fold run, the table, and the
commands to infer with the winner's ensemble of folds and to export it. Outputs in ``--work_dir``
(experiments/best_configuration.py; docs/model_selection.md). A second call with the same arguments reuses the
finished fold runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.errors import DatasetError  # noqa: E402
from engines.errors import install_excepthook  # noqa: E402
from experiments.best_configuration import find_best_configuration  # noqa: E402

install_excepthook()  # our errors end in their message; the full traceback goes to a file (engines/errors.py)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    ap.add_argument("--dataset_dir", required=True, help="a data set of any registered format")
    ap.add_argument("--bundles", nargs="+", default=["unet"], help="architecture bundles (default: unet)")
    ap.add_argument("--spatial_dims", nargs="+", type=int, default=[2], help="2 and / or 3 (3: 3D data sets only)")
    ap.add_argument("--num_folds", type=int, default=5, help="k of the cross-validation by case (default 5)")
    ap.add_argument("--work_dir", required=True, help="folder of the fold runs and the results")
    ap.add_argument("--seed", type=int, default=0, help="seed of the folds and the runs (default 0)")
    ap.add_argument("--data_format", default="auto", help="a registered format name, or auto")
    args, overrides = ap.parse_known_args(argv)
    bad = [a for a in overrides if a.startswith("--") and "=" in a]
    if bad:
        ap.error(f"give overrides as '--key value', not {bad[0]!r}")
    try:
        out = find_best_configuration(
            args.dataset_dir, args.bundles, args.spatial_dims, args.num_folds, args.work_dir, overrides,
            seed=args.seed, data_format=args.data_format, progress=lambda line: print(line, flush=True),
        )  # fmt: skip
    except (DatasetError, ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    print()
    print(out["table"])
    keep = out["postprocessing"]["keep_largest"]
    print(f"best: {out['configuration']} (CV Dice {out['cv_dice']:.4f}; keep the largest component of: "
          f"{keep or 'no class'}); {Path(args.work_dir) / 'winner.json'}")
    print("\ninfer with the ensemble of its folds:")
    print(f"  {out['infer_command']}")
    print(f"export as a bundle (the ensemble of the folds; evaluate.yaml: the best fold, fold {out['best_fold']}):")
    print(f"  {out['export_command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
