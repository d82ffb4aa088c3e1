"""Write a synthetic data set in the on-disk format of the ISBI 2012 EM challenge.

train-volume.tif, train-labels.tif (255 = cell, 0 = membrane) and test-volume.tif, multi-page 8-bit TIFFs
(see transforms/synthetic_isbi.py). Skips when train-labels.tif exists, unless --overwrite.

    python scripts/make_synthetic_isbi.py --output_dir data/ISBI2012_synthetic --num_pages 30 --size 512
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.synthetic_isbi import generate_isbi2012  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    """Options named as the arguments of :func:`transforms.synthetic_isbi.generate_isbi2012`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="data/ISBI2012_synthetic", help="folder of the TIFF stacks")
    parser.add_argument("--num_pages", type=int, default=30, help="pages per stack (30 in the challenge)")
    parser.add_argument("--size", type=int, default=512, help="page side in pixels (512 in the challenge)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same pixels")
    parser.add_argument("--no_test", action="store_true", help="do not write test-volume.tif")
    parser.add_argument("--overwrite", action="store_true", help="write even if train-labels.tif exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.output_dir)
    if (out / "train-labels.tif").is_file() and not args.overwrite:
        print(f"{out / 'train-labels.tif'} exists: skipped; pass --overwrite to write it again")
        return 0
    start = time.perf_counter()
    generate_isbi2012(
        out, num_pages=args.num_pages, size=args.size, seed=args.seed, with_test=not args.no_test,
        overwrite=args.overwrite,
    )  # fmt: skip
    test = "" if args.no_test else " and test-volume.tif"
    print(
        f"wrote train-volume.tif, train-labels.tif{test} ({args.num_pages} pages of {args.size}x{args.size}) in "
        f"{out}, seed {args.seed}, in {time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
