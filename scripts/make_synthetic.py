"""Write the synthetic twin of a registered data format, in that format's real on-disk layout.

One sub-command per format (``FORMATS.get(name).synthesize``), each with the options of its generator. A data set
that exists already is skipped (exit status 0) unless ``--overwrite`` is given. Examples:

    python scripts/make_synthetic.py msd --out data/Task01_BrainTumour_synthetic --num_training 24 --num_test 4
    python scripts/make_synthetic.py brats2020 --out data/BraTS2020_synthetic --num_cases 12
    python scripts/make_synthetic.py isbi2012 --out data/ISBI2012_synthetic --num_pages 30 --size 512
    python scripts/make_synthetic.py figshare --out data/Figshare_synthetic --num_images 48 --num_patients 8
    python scripts/make_synthetic.py png_pairs --out data/Liver_synthetic --kind liver --num_images 40
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from formats import FORMATS  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    """One sub-command per registered format, with the options its plug-in declares
    (:meth:`formats.DataFormat.add_synthetic_arguments`)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="data_format", required=True, metavar="FORMAT")
    for name in FORMATS.names():
        fmt = FORMATS.get(name)
        sub = commands.add_parser(name, help=fmt.description)
        sub.add_argument("--out", required=True, help="folder to write (the data set folder)")
        sub.add_argument("--overwrite", action="store_true", help="write even if the data set exists")
        fmt.add_synthetic_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Write the data set; returns the exit status (0 written or skipped)."""
    options = vars(build_parser().parse_args(argv))
    name, out = options.pop("data_format"), Path(options.pop("out"))
    start = time.perf_counter()
    try:
        root = FORMATS.get(name).synthesize(out, **options)
    except FileExistsError as err:
        print(f"{str(err.args[0]).split('; ')[0]}: skipped; pass --overwrite to write it again")
        return 0
    shown = ", ".join(f"{key} {value}" for key, value in options.items() if key != "overwrite")
    print(f"wrote the {name} synthetic data set to {root} ({shown}) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
