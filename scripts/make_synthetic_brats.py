"""Write a synthetic data set in the on-disk layout of BraTS2020 (MICCAI_BraTS2020_TrainingData/).

One folder per case, BraTS20_Training_NNN/ with BraTS20_Training_NNN_{flair,t1,t1ce,t2,seg}.nii.gz, and
name_mapping.csv (see transforms/synthetic_brats.py). Skips when name_mapping.csv exists, unless --overwrite.

    python scripts/make_synthetic_brats.py --output_dir data/BraTS2020_synthetic \\
        --num_cases 12 --spatial_size 64 64 40 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.synthetic_brats import generate_brats2020  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    """Options named as the arguments of :func:`transforms.synthetic_brats.generate_brats2020`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="data/BraTS2020_synthetic", help="folder of the case folders")
    parser.add_argument("--num_cases", type=int, default=12, help="case folders (369 in the real release)")
    parser.add_argument(
        "--spatial_size", type=int, nargs=3, default=(64, 64, 40), metavar=("X", "Y", "Z"),
        help="voxels per volume; 240 240 155 is the real size",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="same seed, same voxels")
    parser.add_argument("--split", choices=("Training", "Validation"), default="Training", help="Validation: no _seg")
    parser.add_argument("--suffix", choices=(".nii.gz", ".nii"), default=".nii.gz", help="file suffix")
    parser.add_argument("--overwrite", action="store_true", help="write even if name_mapping.csv exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.output_dir)
    mapping = out / ("name_mapping.csv" if args.split == "Training" else "name_mapping_validation_data.csv")
    if mapping.is_file() and not args.overwrite:
        print(f"{mapping} exists: skipped; pass --overwrite to write it again")
        return 0
    start = time.perf_counter()
    generate_brats2020(
        out, num_cases=args.num_cases, spatial_size=tuple(args.spatial_size), seed=args.seed, split=args.split,
        suffix=args.suffix, overwrite=args.overwrite,
    )  # fmt: skip
    size = "x".join(str(s) for s in args.spatial_size)
    print(
        f"wrote {args.num_cases} BraTS20_{args.split}_NNN case folders of {size} voxels (flair, t1, t1ce, t2"
        f"{', seg' if args.split == 'Training' else ''}) in {out}, seed {args.seed}, "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
