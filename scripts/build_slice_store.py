"""Write the preprocessed slice store of a bundle's training data set (optional: training writes it on first use).

Each case is loaded, checked and pre-processed once by the bundle's volume transforms, cropped to the bounding box
of its non-zero voxels and written as float16 / uint8 ``.npy`` files with its geometry (see
``data/slice_store.py``). Cases already stored from unchanged source files are skipped.

``--format msd`` (default): MSD Task01 (``bundles/unet``, its ``configs/slice_store.yaml``): every case of the
``training`` section, through the volume transforms of its ``train.yaml`` without the in-plane crop.
``--format brats2020``: BraTS2020 (``bundles/brats_unet``, its ``configs/slice_store.yaml``): the training and
validation cases of the split, through all volume transforms of its ``train.yaml`` (resized to ``image_size``).
The formats with a store are those whose plug-in names one (``DataFormat.slice_store``). Any other ``--key value`` overrides that key of the bundle config, as ``python -m monai.bundle run`` does (e.g.
``--image_size "[160, 160]"`` or ``--modalities "['flair', 't2']"`` for BraTS); use the same values for training.

Example:
    python scripts/build_slice_store.py --dataset_dir /data/Task01_BrainTumour --store_dir /data/Task01_store
    python -m monai.bundle run --dataset_dir /data/Task01_BrainTumour --store_dir /data/Task01_store \\
        --config_file "['bundles/unet/configs/train.yaml','bundles/unet/configs/slice_store.yaml']"

    python scripts/build_slice_store.py --format brats2020 --dataset_dir /data/MICCAI_BraTS2020_TrainingData \\
        --store_dir /data/BraTS_store
    python -m monai.bundle run --dataset_dir /data/MICCAI_BraTS2020_TrainingData --store_dir /data/BraTS_store \\
        --config_file "['bundles/brats_unet/configs/train.yaml','bundles/brats_unet/configs/slice_store.yaml']"
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monai.bundle import ConfigParser  # noqa: E402

from formats import FORMATS  # noqa: E402


def _overrides(extra: list[str]) -> dict:
    """``--key value`` pairs as config overrides; a value is a Python literal (``[32, 32]``, ``0``) or a string."""
    if len(extra) % 2 or not all(k.startswith("--") for k in extra[::2]):
        raise SystemExit(f"build_slice_store.py: overrides must be --key value pairs, got {extra}")
    return {k[2:]: _literal(v) for k, v in zip(extra[::2], extra[1::2])}


def _literal(value: str) -> object:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    stored = [name for name in FORMATS.names() if FORMATS.get(name).slice_store is not None]
    ap.add_argument("--format", choices=stored, default="msd", help="data set format (default: msd)")
    ap.add_argument(
        "--dataset_dir", required=True,
        help="MSD Task01 folder (dataset.json, imagesTr, labelsTr), or the BraTS2020 training folder of case folders",
    )  # fmt: skip
    ap.add_argument("--store_dir", required=True, help="folder of the store (created)")
    ap.add_argument("--config_file", default=None, help="bundle training config (default: that of --format)")
    ap.add_argument("--overwrite", action="store_true", help="write every case again")
    args, extra = ap.parse_known_args(argv)
    config_file, store_file = FORMATS.get(args.format).slice_store

    parser = ConfigParser()
    parser.read_config([args.config_file or str(ROOT / config_file), str(ROOT / store_file)])
    parser.update(_overrides(extra))
    parser.update({"dataset_dir": args.dataset_dir, "store_dir": args.store_dir})
    if args.overwrite:
        parser["data"]["store"]["overwrite"] = True
    t = time.perf_counter()
    store = parser.get_parsed_content("data#store")
    errors = [store.meta(c)["max_abs_error"] for c in store.case_ids]
    print(
        f"{len(store.case_ids)} cases in {args.store_dir} ({time.perf_counter() - t:.1f} s); "
        f"largest float16 rounding error of a standardised intensity: {max(errors):.2e}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
