#!/usr/bin/env python
"""Compare bundles the way the seeds do, in one command: train every run of a matrix (bundles x losses x seeds)
with the same budget on the same split, evaluate each on the same held-out test cases, and write the results
table (results.md, results.csv, runs.csv), a bar chart of the main metric and each run's pictures.

Every run is a stock ``python -m monai.bundle run`` (train, then evaluate) with a generated override file; its
results are keyed by bundle + loss + seed + overrides, so a second call skips finished runs and an interrupted
matrix continues (a half-trained run resumes from its latest checkpoint). Run from the repository root:

    python scripts/compare_variants.py --matrix experiments/matrices/seed000_architectures.yaml \\
        --dataset_dir data/Task01_BrainTumour_synthetic --exp_dir runs/compare/seed000_architectures
    python scripts/compare_variants.py --bundles unet attention_unet --losses dice bce --seeds 0 1 \\
        --set epochs=2 --set "roi_size=[64, 64]" --dataset_dir ... --exp_dir runs/compare/mine

Command-line ``--bundles/--losses/--seeds`` replace the file's lists; ``--set key=value`` (YAML value) adds to
its overrides.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments import ComparisonRunner, MatrixError, expand_matrix, read_matrix_file  # noqa: E402
from data.errors import DatasetError  # noqa: E402
from engines.errors import install_excepthook  # noqa: E402

install_excepthook()  # our errors end in their message; the full traceback goes to a file (engines/errors.py)


def parse_set(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise MatrixError(f"--set {item!r}: expected key=value.")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--matrix", help="matrix YAML (experiments/matrices/*.yaml)")
    ap.add_argument("--bundles", nargs="+", help="bundles (unet and variants with configs/variant.yaml)")
    ap.add_argument("--losses", nargs="+", help="keys of bundles/common/configs/losses.yaml, or 'bundle'")
    ap.add_argument("--seeds", nargs="+", type=int, help="training seeds")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    ap.add_argument("--dataset_dir", help="MSD Task01-format data set (default: the matrix's dataset_dir)")
    ap.add_argument("--exp_dir", required=True, help="experiment folder (results are reused from it)")
    ap.add_argument("--test_fraction", type=float, help="share of cases held out for testing (default 0.2)")
    ap.add_argument("--split_seed", type=int, help="seed of the split (default 0)")
    ap.add_argument("--baseline", help="row or bundle of the time reference (default: the first row)")
    ap.add_argument("--metric", help="main metric of the bar chart (default test_dice)")
    ap.add_argument("--time_limit", type=float, help="wall-time budget per training in seconds (default 0: epochs only)")
    ap.add_argument("--threads", type=int, default=0, help="OMP threads per bundle process (0: default)")
    ap.add_argument("--no_pictures", action="store_true", help="skip the pictures of each run")
    args = ap.parse_args(argv)
    try:
        content = read_matrix_file(args.matrix) if args.matrix else {}
        source = args.matrix or "the command line"
        bundles = args.bundles or content.get("bundles")
        if not bundles:
            raise MatrixError(f"{source}: no bundles (give --bundles or a matrix file with 'bundles').")
        runs = expand_matrix(
            bundles, args.losses or content.get("losses", ["bundle"]), args.seeds or content.get("seeds", [0]),
            {**content.get("overrides", {}), **parse_set(args.set)}, content.get("variants"), root=ROOT, source=source,
        )
        dataset_dir = args.dataset_dir or content.get("dataset_dir")
        if not dataset_dir:
            raise MatrixError(f"{source}: no data set (give --dataset_dir or 'dataset_dir' in the matrix file).")
        runner = ComparisonRunner(
            args.exp_dir, dataset_dir, runs,
            test_fraction=args.test_fraction if args.test_fraction is not None else content.get("test_fraction", 0.2),
            split_seed=args.split_seed if args.split_seed is not None else content.get("split_seed", 0),
            baseline=args.baseline or content.get("baseline"), metric=args.metric or content.get("metric", "test_dice"),
            time_limit=args.time_limit if args.time_limit is not None else content.get("time_limit", 0.0),
            pictures=not args.no_pictures, threads=args.threads, root=ROOT,
        )
        runner.run()
    except (MatrixError, DatasetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    exp = Path(args.exp_dir)
    print((exp / "results.md").read_text())
    print(f"trained {len(runner.trained)}, evaluated {len(runner.evaluated)}, reused {len(runs) - len(runner.evaluated)} "
          f"of {len(runs)} runs")
    print(f"table: {exp / 'results.md'}, {exp / 'results.csv'} (per run: {exp / 'runs.csv'})")
    print(f"chart: {exp / (runner.metric + '.png')}; pictures: {exp / 'runs' / '*' / 'pictures'}; "
          f"TensorBoard: tensorboard --logdir {exp / 'runs'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
