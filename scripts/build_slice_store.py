"""Write the preprocessed slice store of a bundle's training data set (optional: training writes it on first use).

Each case of the data set's ``training`` section is loaded, checked and standardised once by the volume
transforms of ``bundles/common/configs/msd_task01_2d.yaml`` (without the in-plane crop), cropped to the bounding
box of its non-zero voxels and written as float16 / uint8 ``.npy`` files with its geometry (see
``transforms/slice_store.py``). Cases already stored from unchanged source files are skipped.

Example:
    python scripts/build_slice_store.py --dataset_dir /data/Task01_BrainTumour --store_dir /data/Task01_store
    python -m monai.bundle run --config_file bundles/unet/configs/train.yaml --dataset_dir /data/Task01_BrainTumour \\
        --data "%bundles/common/configs/msd_task01_2d_store.yaml#data" --store_dir /data/Task01_store
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monai.bundle import ConfigParser  # noqa: E402

STORE_DATA = "%bundles/common/configs/msd_task01_2d_store.yaml#data"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset_dir", required=True, help="MSD Task01-format folder (dataset.json, imagesTr, labelsTr)")
    ap.add_argument("--store_dir", required=True, help="folder of the store (created)")
    ap.add_argument("--config_file", default=str(ROOT / "bundles/unet/configs/train.yaml"), help="bundle training config")
    ap.add_argument("--overwrite", action="store_true", help="write every case again")
    args = ap.parse_args(argv)

    parser = ConfigParser()
    parser.read_config(args.config_file)
    parser.update({"dataset_dir": args.dataset_dir, "store_dir": args.store_dir, "data": STORE_DATA})
    parser.resolve_macro_and_relative_ids()
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
