"""Write synthetic nnU-Net v2 raw data sets (formats/nnunet_v2/synthetic.py) into OUTPUT_DIR:
Dataset901_SynthMRI (one T2 channel, three tissues, 0.9 x 0.9 x 3 mm), Dataset902_SynthCT (Hounsfield units, a
small lesion), Dataset903_Synth2DPNG (two PNG channels), Dataset904_SynthRegions (BraTS-style regions).

    python scripts/make_synthetic_nnunet.py --output_dir data/nnUNet_raw --kind mri ct png2d regions --seed 0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from formats.nnunet_v2.synthetic import SYNTHETIC_KINDS, generate_nnunet_v2  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="data/nnUNet_raw", help="parent folder of the data set folders")
    parser.add_argument("--kind", nargs="+", choices=sorted(SYNTHETIC_KINDS), default=sorted(SYNTHETIC_KINDS))
    parser.add_argument("--num_training", type=int, default=10, help="labelled cases per data set")
    parser.add_argument("--num_test", type=int, default=2, help="unlabelled cases (imagesTs) per data set")
    parser.add_argument("--spatial_size", type=int, nargs="+", default=None,
                        help="voxels per axis: 3 numbers apply to the 3D kinds, 2 to png2d (the others keep their "
                             "default, 32 32 12 / 48 48)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same files")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for kind in args.kind:
        fits = args.spatial_size and len(args.spatial_size) == len(SYNTHETIC_KINDS[kind][3])
        size = args.spatial_size if fits else None
        root = generate_nnunet_v2(args.output_dir, kind=kind, num_training=args.num_training,
                                  num_test=args.num_test, spatial_size=size, seed=args.seed)
        print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
