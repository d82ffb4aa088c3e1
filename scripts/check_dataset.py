"""Check a data set before training: every problem at once, each with its file, then a summary line.

Formats (one sub-command each): msd_task01, brats2020, isbi2012, figshare, png_pairs. Exit status 0 when there is
no error (warnings allowed unless --strict), 1 otherwise, 2 for bad command-line arguments. Examples:

    python scripts/check_dataset.py msd_task01 /data/Task01_BrainTumour
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

from transforms.brats import BRATS_LABELS, BRATS_MODALITIES  # noqa: E402
from transforms.integrity import check_dataset, exit_with_report  # noqa: E402
from transforms.isbi import ISBI_LABELS  # noqa: E402
from engines.errors import install_excepthook  # noqa: E402

install_excepthook()  # our errors end in their message; the full traceback goes to a file (engines/errors.py)


def build_parser() -> argparse.ArgumentParser:
    """One sub-command per format; options named as the arguments of ``transforms.integrity.check_<format>``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    formats = parser.add_subparsers(dest="data_format", required=True, metavar="FORMAT")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = formats.add_parser(name, help=help_text)
        sub.add_argument("dataset_dir", help="the data set's folder")
        sub.add_argument("--strict", action="store_true", help="warnings fail too")
        sub.add_argument("--no_progress", action="store_true", help="no progress bar")
        return sub

    msd = add("msd_task01", "MSD task folder: dataset.json, imagesTr/, labelsTr/, imagesTs/")
    msd.add_argument("--num_channels", type=int, help="image channels (default: the modalities of dataset.json)")
    msd.add_argument("--labels", type=int, nargs="+", help="label values (default: the labels of dataset.json)")
    msd.add_argument("--sections", nargs="+", default=["training", "test"], help="dataset.json lists to check")

    brats = add("brats2020", "BraTS2020 folder of BraTS20_Training_NNN case folders")
    brats.add_argument("--modalities", nargs="+", default=list(BRATS_MODALITIES), choices=BRATS_MODALITIES)
    brats.add_argument("--labels", type=int, nargs="+", default=list(BRATS_LABELS))
    brats.add_argument("--no_label", dest="with_label", action="store_false", help="validation release: no _seg")
    brats.add_argument("--expected_cases", type=int, help="number of cases there should be (369)")

    isbi = add("isbi2012", "ISBI 2012 stacks: train-volume.tif, train-labels.tif (test-volume.tif)")
    isbi.add_argument("--image_file", default="train-volume.tif")
    isbi.add_argument("--label_file", default="train-labels.tif")
    isbi.add_argument("--test_file", default="test-volume.tif", help="checked when present")
    isbi.add_argument("--num_pages", type=int, help="expected pages per stack (30)")
    isbi.add_argument("--page_shape", type=int, nargs=2, metavar=("ROWS", "COLS"), help="expected page size (512 512)")
    isbi.add_argument("--labels", type=float, nargs="+", default=list(ISBI_LABELS))

    figshare = add("figshare", "Figshare brain tumour .mat files (MATLAB v7.3)")
    figshare.add_argument("--expected_cases", type=int, help="number of .mat files there should be (3064)")

    png = add("png_pairs", "image/mask pairs in two folders matched by name")
    png.add_argument("--images_subdir", default="images")
    png.add_argument("--masks_subdir", default="masks")
    png.add_argument("--mask_suffix", default="", help="e.g. _mask for 000_mask.png")
    png.add_argument("--image_suffix", default="")
    png.add_argument("--labels", type=float, nargs="+", default=[0, 255], help="mask values (0 255, or 0 1)")
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
