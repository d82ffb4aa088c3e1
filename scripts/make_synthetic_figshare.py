"""Write a synthetic data set in the on-disk format of the Figshare brain-tumour data set (MATLAB v7.3 files).

1.mat ... N.mat in brainTumorDataPublic_a-b folders, each a MATLAB v7.3 (HDF5) file holding struct cjdata
(label, PID, image, tumorBorder, tumorMask); see transforms/synthetic_figshare.py. Skips when README.txt
exists, unless --overwrite.

    python scripts/make_synthetic_figshare.py --output_dir data/Figshare_synthetic \\
        --num_images 48 --num_patients 8 --size 512
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.synthetic_figshare import generate_figshare  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    """Options named as the arguments of :func:`transforms.synthetic_figshare.generate_figshare`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="data/Figshare_synthetic", help="folder to write")
    parser.add_argument("--num_images", type=int, default=48, help=".mat files (3064 in the release)")
    parser.add_argument("--num_patients", type=int, default=8, help="patients (233 in the release)")
    parser.add_argument("--size", type=int, default=512, help="image side (512 in the release)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same pixels")
    parser.add_argument("--files_per_folder", type=int, default=766, help="files per brainTumorDataPublic_a-b folder")
    parser.add_argument("--overwrite", action="store_true", help="write even if README.txt exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.output_dir)
    if (out / "README.txt").is_file() and not args.overwrite:
        print(f"{out / 'README.txt'} exists: skipped; pass --overwrite to write it again")
        return 0
    start = time.perf_counter()
    generate_figshare(
        out, num_images=args.num_images, num_patients=args.num_patients, size=args.size, seed=args.seed,
        files_per_folder=args.files_per_folder, overwrite=args.overwrite,
    )  # fmt: skip
    print(
        f"wrote {args.num_images} MATLAB v7.3 .mat files of {args.size}x{args.size} ({args.num_patients} patients) "
        f"in {out}, seed {args.seed}, in {time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
