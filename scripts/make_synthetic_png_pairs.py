"""Write a synthetic PNG image/mask data set like seed 004's Liver (CT) or Cell (EM) sets.

images/NNN.png and masks/NNN.png (8-bit grey, masks 0/255), 512 x 512 by default; see
transforms/synthetic_png_pairs.py. Skips when the masks folder holds masks, unless --overwrite.

    python scripts/make_synthetic_png_pairs.py --kind liver --output_dir data/Liver_synthetic --num_images 40
    python scripts/make_synthetic_png_pairs.py --kind cell --output_dir data/Cell_synthetic --num_images 30
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.synthetic_png_pairs import generate_png_pairs  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    """Options named as the arguments of :func:`transforms.synthetic_png_pairs.generate_png_pairs`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=("liver", "cell"), default="liver", help="which seed 004 data set")
    parser.add_argument("--output_dir", default=None, help="folder to write (default data/<Kind>_synthetic)")
    parser.add_argument("--num_images", type=int, default=20, help="pairs (Liver 400, Cell 30 in seed 004)")
    parser.add_argument("--size", type=int, default=512, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same pixels")
    parser.add_argument("--images_dir", default="images", help="sub-folder of the images")
    parser.add_argument("--masks_dir", default="masks", help="sub-folder of the masks")
    parser.add_argument("--mask_suffix", default="", help="appended to mask names, e.g. _mask")
    parser.add_argument("--overwrite", action="store_true", help="write even if the data set exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.output_dir or f"data/{args.kind.capitalize()}_synthetic")
    start = time.perf_counter()
    try:
        generate_png_pairs(
            out, kind=args.kind, num_images=args.num_images, size=args.size, seed=args.seed,
            images_dir=args.images_dir, masks_dir=args.masks_dir, mask_suffix=args.mask_suffix,
            overwrite=args.overwrite,
        )  # fmt: skip
    except FileExistsError as err:
        print(f"{err.args[0].split('; ')[0]}: skipped; pass --overwrite to write it again")
        return 0
    print(
        f"wrote {args.num_images} {args.kind} pairs of {args.size}x{args.size} ({out / args.images_dir}, "
        f"{out / args.masks_dir}), seed {args.seed}, in {time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
