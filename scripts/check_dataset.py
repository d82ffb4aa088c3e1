"""Check a data set before training: every problem at once, each with its file, then a summary line.

Formats (one sub-command per registered format): msd, brats2020, isbi2012, figshare, png_pairs. Exit status 0 when there is
no error (warnings allowed unless --strict), 1 otherwise, 2 for bad command-line arguments. Examples:

    python scripts/check_dataset.py msd        /data/Task01_BrainTumour
    python scripts/check_dataset.py brats2020  /data/MICCAI_BraTS2020_TrainingData --expected_cases 369
    python scripts/check_dataset.py isbi2012   /data/isbi2012 --num_pages 30 --page_shape 512 512
    python scripts/check_dataset.py figshare   /data/figshare --expected_cases 3064
    python scripts/check_dataset.py png_pairs  /data/Liver --images_subdir images --masks_subdir masks

The same check runs from every bundle: python -m monai.bundle run check --config_file
"['bundles/<name>/configs/train.yaml','bundles/common/configs/check.yaml']" (see docs/data_checks.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from formats import FORMATS  # noqa: E402
from formats.integrity import check_dataset, exit_with_report  # noqa: E402
from engines.errors import install_excepthook  # noqa: E402

install_excepthook()  # our errors end in their message; the full traceback goes to a file (engines/errors.py)


def build_parser() -> argparse.ArgumentParser:
    """One sub-command per registered format, with the discovery options that format declares
    (:meth:`formats.DataFormat.add_check_arguments`)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="data_format", required=True, metavar="FORMAT")
    for name in FORMATS.names():
        fmt = FORMATS.get(name)
        sub = commands.add_parser(name, help=fmt.description)
        sub.add_argument("dataset_dir", help="the data set's folder")
        sub.add_argument("--strict", action="store_true", help="warnings fail too")
        sub.add_argument("--no_progress", action="store_true", help="no progress bar")
        fmt.add_check_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the check; returns the exit status (0 passed, 1 failed)."""
    args = vars(build_parser().parse_args(argv))
    data_format, dataset_dir, strict = args.pop("data_format"), args.pop("dataset_dir"), args.pop("strict")
    args["progress"] = not args.pop("no_progress")
    if "page_shape" in args and args["page_shape"] is not None:
        args["page_shape"] = tuple(args["page_shape"])
    report = check_dataset(data_format, dataset_dir, **args)
    try:
        exit_with_report(report, strict=strict)
    except SystemExit as stop:
        return int(stop.code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
