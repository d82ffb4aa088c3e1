"""Write a synthetic data set in the on-disk format of MSD Task01_BrainTumour.

The folder gets dataset.json, imagesTr/, labelsTr/ and imagesTs/ (see transforms/synthetic_msd.py).

Skips when ``OUTPUT_DIR/dataset.json`` exists, unless ``--overwrite``. Example (the demo's data):

    python scripts/make_synthetic_msd.py --output_dir data/Task01_BrainTumour_synthetic \\
        --num_training 24 --num_test 4 --spatial_size 64 64 32 --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.synthetic_msd import generate_msd_task01  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    """Command-line options, named as the arguments of :func:`transforms.synthetic_msd.generate_msd_task01`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--output_dir", default="data/Task01_BrainTumour_synthetic", help="folder to write (plays Task01_BrainTumour/)"
    )
    parser.add_argument("--num_training", type=int, default=24, help="labelled cases (imagesTr + labelsTr)")
    parser.add_argument("--num_test", type=int, default=4, help="unlabelled cases (imagesTs)")
    parser.add_argument(
        "--spatial_size", type=int, nargs=3, default=(64, 64, 32), metavar=("X", "Y", "Z"),
        help="voxels per case; 240 240 155 is the real size",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="same seed, same voxels")
    parser.add_argument("--overwrite", action="store_true", help="write even if dataset.json exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.output_dir)
    existing = out / "dataset.json"
    if existing.is_file() and not args.overwrite:
        try:
            meta = json.loads(existing.read_text(encoding="utf-8"))
            found = f"{meta.get('numTraining', '?')} training + {meta.get('numTest', '?')} test cases"
        except (OSError, ValueError):
            found = "an unreadable dataset.json"
        print(f"{existing} exists ({found}): skipped; pass --overwrite to write it again")
        return 0
    start = time.perf_counter()
    generate_msd_task01(
        out,
        num_training=args.num_training,
        num_test=args.num_test,
        spatial_size=tuple(args.spatial_size),
        seed=args.seed,
        overwrite=args.overwrite,
    )
    size = "x".join(str(s) for s in args.spatial_size)
    print(
        f"wrote {args.num_training} training cases ({out / 'imagesTr'}, {out / 'labelsTr'}) and {args.num_test} test "
        f"cases ({out / 'imagesTs'}) of {size} voxels x 4 modalities, seed {args.seed}, and {existing} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
