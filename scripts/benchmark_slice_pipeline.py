"""Benchmark: augmented training slices per second, our pipeline against a naive MONAI one, in one run.

Ours (bundles/unet `data#train_dataset`): each volume is loaded, checked, standardised and cropped once into a
CacheDataset; every axial slice is a sample; flips + shear per slice. The naive pipeline is what a MONAI user
writes first: one dataset item per (file, slice), and every item loads the NIfTI (LoadImaged) and the same
volume transforms, then takes its slice and the same augmentation. Both are built from the same config
pieces, so the ratio measures the caching design only. Cache building is reported separately, and also
included in a "first epoch" number and in a number over a whole training run (``--epochs``, seed 000's 20).

Example (MSD-sized volumes, the default):
    python scripts/benchmark_slice_pipeline.py --cases 3 --spatial_size 240 240 155
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from monai.bundle import ConfigParser  # noqa: E402
from monai.data import Dataset  # noqa: E402
from monai.transforms import Compose  # noqa: E402
from tqdm import tqdm  # noqa: E402

from transforms import generate_msd_task01  # noqa: E402


def build_parser(dataset_dir: str, roi: int) -> ConfigParser:
    """The unet bundle's training config on ``dataset_dir``: every case for training, ``roi`` x ``roi`` crop."""
    parser = ConfigParser()
    parser.read_config(str(ROOT / "bundles/unet/configs/train.yaml"))
    parser.update({"dataset_dir": dataset_dir, "val_fraction": 0.0, "roi_size": [roi, roi], "num_workers": 0})
    return parser


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=3, help="synthetic training volumes")
    ap.add_argument("--spatial_size", type=int, nargs=3, default=(240, 240, 155), help="volume size X Y Z")
    ap.add_argument("--roi", type=int, default=144, help="in-plane crop (the paper's 144)")
    ap.add_argument("--naive_slices", type=int, default=12, help="slices timed for the naive pipeline")
    ap.add_argument("--data_dir", default=None, help="existing MSD-format folder (default: synthetic in a temp dir)")
    ap.add_argument("--epochs", type=int, default=20, help="training length for the amortised ratio (seed 000: 20)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = str(Path(tmp) / "Task01_BrainTumour")
            t = time.perf_counter()
            generate_msd_task01(data_dir, num_training=args.cases, num_test=0, spatial_size=tuple(args.spatial_size), seed=0)
            print(f"synthetic data: {args.cases} cases of {tuple(args.spatial_size)} in {time.perf_counter() - t:.1f} s")

        parser = build_parser(data_dir, args.roi)

        # ours: decode once (cache), then every slice with augmentation
        t = time.perf_counter()
        ours = parser.get_parsed_content("data#train_dataset", instantiate=True)
        cache_s = time.perf_counter() - t
        n = len(ours)
        t = time.perf_counter()
        for i in tqdm(random.Random(0).sample(range(n), n), desc="ours (all slices)", leave=False):
            ours[i]
        ours_s = time.perf_counter() - t
        ours_rate = n / ours_s
        first_epoch_rate = n / (ours_s + cache_s)
        run_rate = args.epochs * n / (args.epochs * ours_s + cache_s)

        # naive: one item per (file, slice), the NIfTI decoded for every slice
        files = parser.get_parsed_content("data#train_files")
        volume_tf = parser.get_parsed_content("data#volume_transforms")
        slice_tf = [parser.get_parsed_content("data#to_float"), *parser.get_parsed_content("data#augmentation")]
        depths = ours.depths
        items = [{**f, "z": z} for f, d in zip(files, depths) for z in range(d)]

        def pick(d):
            z = d["z"]
            return {**d, "image": d["image"][..., z], "label": d["label"][..., z]}

        naive = Dataset(items, transform=Compose([*volume_tf, pick, *slice_tf]))
        chosen = random.Random(1).sample(range(len(items)), min(args.naive_slices, len(items)))
        t = time.perf_counter()
        for i in tqdm(chosen, desc="naive (NIfTI per slice)", leave=False):
            naive[i]
        naive_s = time.perf_counter() - t
        naive_rate = len(chosen) / naive_s

    shape = tuple(ours[0]["image"].shape)
    print(f"\n{os.cpu_count()} CPU(s), {torch.get_num_threads()} torch thread(s), data loading in the main process")
    print(f"slice shape {shape}, {n} training slices from {len(files)} volumes of {tuple(args.spatial_size)}")
    print(f"ours:  cache build {cache_s:.1f} s (each volume decoded once), then {ours_rate:.1f} slices/s")
    print(f"ours, first epoch including the cache build: {first_epoch_rate:.1f} slices/s")
    print(f"naive: {naive_rate:.2f} slices/s ({len(chosen)} slices timed)")
    print(f"RATIO ours/naive (steady state): {ours_rate / naive_rate:.0f}x")
    print(f"RATIO ours/naive (first epoch, cache build included): {first_epoch_rate / naive_rate:.0f}x")
    print(f"RATIO ours/naive ({args.epochs} epochs, one cache build): {run_rate / naive_rate:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
