"""Convert a data set between the MSD layout (one 4D NIfTI per case) and nnU-Net v2's raw layout (one file per
channel), in either direction; the source folder is only read.

    python scripts/convert_dataset.py /data/Task05_Prostate /data/nnUNet_raw            # -> Dataset005_Prostate
    python scripts/convert_dataset.py /data/nnUNet_raw/Dataset005_Prostate /data/msd   # -> Task05_Prostate

The layout of the source is read from its dataset.json; ``--to`` forces the target (see data/layouts.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.errors import DatasetError  # noqa: E402
from data.layouts import convert_dataset  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="the data set folder to convert (with dataset.json)")
    parser.add_argument("output_parent", help="folder in which the converted data set folder is made")
    parser.add_argument("--to", choices=("msd", "nnunet_v2"), default=None, help="target layout (default: the other)")
    parser.add_argument("--dataset_id", type=int, default=None, help="number of the new folder (Dataset005_/Task05_)")
    parser.add_argument("--name", default=None, help="name of the new folder (default from the source's)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = convert_dataset(args.source, args.output_parent, to=args.to, dataset_id=args.dataset_id,
                              name=args.name, overwrite=args.overwrite)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
