"""Benchmark (1) data: augmented 4 x 144 x 144 training slices per second, every pipeline timed in one run.

Pipelines (all deliver shuffled-or-streamed batches of ``--batch`` augmented slices through a ``DataLoader``, with
the same deterministic volume transforms and the same augmentation semantics: flips along both in-plane axes,
shear 0..shear_degrees, labels nearest):

* ``naive``: what a MONAI user writes first, one dataset item per (file, slice) that loads the NIfTI
  (``LoadImaged``) and runs the volume transforms, then takes its slice and the per-slice augmentation.
* ``monai_patchiter``: MONAI's 2D-from-3D tutorial (``2d_slices_from_3d_training``): ``CacheDataset`` of volumes
  -> ``GridPatchDataset`` with ``PatchIterd(patch_size=(None, None, 1))`` -> ``SqueezeDimd`` + augmentation.
* ``cached``: ours, bundles/unet's ``data#train_dataset`` (``VolumeCacheDataset`` + ``VolumeSliceDataset``,
  MONAI augmentation chain per slice).
* ``cached+batch``: the same slices, augmentation per batch (``RandFlipShearBatchd`` in the collate).
* ``store``: the memory-mapped slice store (``configs/slice_store.yaml`` with ``store_batch_augmentation: false``), per-slice chain.
* ``store+batch``: the store with batch-level augmentation (``configs/slice_store.yaml``, the fast path).

Cache and store builds are timed separately (each volume decoded once). Ratios are against ``naive`` and
``monai_patchiter`` measured in the same run; rounds are interleaved, the median round counts.

Examples:
    python scripts/benchmark_data.py                 # full: 3 volumes of 240 x 240 x 155, writes docs/benchmarks.md
    python scripts/benchmark_data.py --quick         # smoke test: tiny volumes, nothing written
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, header, load, write_section  # noqa: E402

sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from monai.bundle import ConfigParser  # noqa: E402
from monai.data import CacheDataset, DataLoader, Dataset, GridPatchDataset, PatchIterd  # noqa: E402
from monai.transforms import Compose, SqueezeDimd  # noqa: E402

import transforms  # noqa: E402
from data.datasets import VolumeSliceDataset  # noqa: E402
from formats.msd.synthetic import generate_msd_task01  # noqa: E402

STORE_YAML = ROOT / "bundles/unet/configs/slice_store.yaml"


def build_parser(dataset_dir: str, roi: int, store_dir: str, store: str | None = None) -> ConfigParser:
    """The unet bundle's training config on ``dataset_dir``, every case for training; with the slice-store override
    file when ``store`` is ``"batch"`` (batch-level augmentation) or ``"per_slice"`` (MONAI's per-slice chain)."""
    parser = ConfigParser()
    parser.read_config([str(ROOT / "bundles/unet/configs/train.yaml"), *([str(STORE_YAML)] if store else [])])
    parser.update({"dataset_dir": dataset_dir, "val_fraction": 0.0, "roi_size": [roi, roi], "num_workers": 0})
    parser.update({"store_dir": store_dir})
    if store:
        parser["store_batch_augmentation"] = store == "batch"
    return parser


def epoch_rate(loader, max_slices: int) -> tuple[float, float]:
    """Slices per wall second and per CPU second of this process (all its threads) of one pass over ``loader``
    (stopping after ``max_slices``). The CPU-time rate does not depend on how busy the machine is."""
    n = 0
    t, c = time.perf_counter(), time.process_time()
    for batch in loader:
        n += int(batch["image"].shape[0])
        if n >= max_slices:
            break
    return n / (time.perf_counter() - t), n / max(time.process_time() - c, 1e-9)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, 1 round, no docs written")
    ap.add_argument("--cases", type=int, default=3, help="synthetic training volumes")
    ap.add_argument("--spatial_size", type=int, nargs=3, default=(240, 240, 155), help="volume size X Y Z")
    ap.add_argument("--roi", type=int, default=144, help="in-plane crop (the paper's 144)")
    ap.add_argument("--batch", type=int, default=40, help="batch size (the bundle's 40)")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers (0 = main process)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads of the loading process")
    ap.add_argument("--naive_slices", type=int, default=12, help="slices timed for the naive pipeline")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    ap.add_argument("--data_dir", default=None, help="existing MSD-format folder (default: synthetic in a temp dir)")
    ap.add_argument("--no_write", action="store_true", help="do not write docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.cases, args.spatial_size, args.roi, args.batch = 2, (40, 40, 8), 32, 4
        args.naive_slices, args.rounds, args.no_write = 2, 1, True

    # one intra-op thread, as in DataLoader worker processes (PyTorch sets 1 there): "2 cores" = 2 workers. With
    # more, OpenMP threads spin-wait and inflate CPU time on a busy machine.
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = str(Path(tmp) / "Task01_BrainTumour")
            t = time.perf_counter()
            generate_msd_task01(data_dir, num_training=args.cases, num_test=0, spatial_size=tuple(args.spatial_size), seed=0)
            print(f"synthetic data: {args.cases} cases of {tuple(args.spatial_size)} in {time.perf_counter() - t:.1f} s")
        store_dir = str(Path(tmp) / "store")
        builds: dict[str, float] = {}

        def loader(dataset, batch_aug: bool, shuffle: bool = True, aug=None):
            kwargs = {}
            if batch_aug:
                kwargs["collate_fn"] = transforms.BatchTransformCollate(aug)
            return DataLoader(dataset, batch_size=args.batch, shuffle=shuffle, num_workers=args.workers, **kwargs)

        # ours, cached volumes
        parser = build_parser(data_dir, args.roi, store_dir)
        t = time.perf_counter()
        volumes = parser.get_parsed_content("data#train_volumes")
        builds["cache (ours)"] = time.perf_counter() - t
        cached = parser.get_parsed_content("data#train_dataset")
        n = len(cached)
        batch_aug = transforms.RandFlipShearBatchd(keys=["image", "label"], mode=["bilinear", "nearest"], shear_degrees=2.0)
        cached_plain = VolumeSliceDataset(volumes, slice_transform=parser.get_parsed_content("data#to_float"))

        # the store
        t = time.perf_counter()
        store_fast = build_parser(data_dir, args.roi, store_dir, "batch")
        store_fast.get_parsed_content("data#store")
        builds["slice store (write, float16)"] = time.perf_counter() - t
        store_slice = build_parser(data_dir, args.roi, store_dir, "per_slice")

        # MONAI's tutorial: CacheDataset + GridPatchDataset(PatchIterd)
        files = parser.get_parsed_content("data#train_files")
        volume_tf = parser.get_parsed_content("data#volume_transforms")
        slice_aug = [parser.get_parsed_content("data#to_float"), *parser.get_parsed_content("data#augmentation")]
        t = time.perf_counter()
        tutorial_volumes = CacheDataset(files, transform=Compose(volume_tf), progress=False)
        builds["CacheDataset (MONAI tutorial)"] = time.perf_counter() - t
        patch_ds = GridPatchDataset(
            data=tutorial_volumes,
            patch_iter=PatchIterd(keys=["image", "label"], patch_size=(None, None, 1), start_pos=(0, 0, 0)),
            transform=Compose([SqueezeDimd(keys=["image", "label"], dim=-1), *slice_aug]),
            with_coordinates=False,
        )

        contenders = {
            "monai_patchiter": lambda: loader(patch_ds, False, shuffle=False),
            "cached": lambda: loader(cached, False),
            "cached+batch": lambda: loader(cached_plain, True, aug=batch_aug),
            "store": lambda: store_slice.get_parsed_content("data#train_loader", lazy=False),
            "store+batch": lambda: store_fast.get_parsed_content("data#train_loader", lazy=False),
        }
        loaders = {name: make() for name, make in contenders.items()}
        if args.workers:
            for name in ("store", "store+batch"):
                loaders[name] = DataLoader(
                    loaders[name].dataset, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                    collate_fn=loaders[name].collate_fn,
                )  # fmt: skip
        rates: dict[str, list[float]] = {name: [] for name in loaders}
        cpu_rates: dict[str, list[float]] = {name: [] for name in loaders}
        loads = []
        for _ in range(args.rounds):
            loads.append(load())
            for name, dl in loaders.items():
                wall, cpu = epoch_rate(dl, n)
                rates[name].append(wall)
                cpu_rates[name].append(cpu)
                print(f"  {name}: {wall:.1f} slices/s, {cpu:.1f} slices per CPU second")

        # naive: one item per (file, slice), the NIfTI decoded for every slice
        depths = cached.depths
        items = [{**f, "z": z} for f, d in zip(files, depths) for z in range(d)]

        def pick(d):
            z = d["z"]
            return {**d, "image": d["image"][..., z], "label": d["label"][..., z]}

        naive = Dataset(items, transform=Compose([*volume_tf, pick, *slice_aug]))
        chosen = random.Random(1).sample(range(len(items)), min(args.naive_slices, len(items)))
        loads.append(load())
        t, c = time.perf_counter(), time.process_time()
        for i in chosen:
            naive[i]
        naive_rate = len(chosen) / (time.perf_counter() - t)
        naive_cpu = len(chosen) / max(time.process_time() - c, 1e-9)

    shape = tuple(cached[0]["image"].shape)
    med = {name: statistics.median(r) for name, r in rates.items()}
    med["naive"] = naive_rate
    cpu = {name: statistics.median(r) for name, r in cpu_rates.items()}
    cpu["naive"] = naive_cpu
    lines = [
        f"{n} training slices {shape} from {args.cases} volumes of {tuple(args.spatial_size)}, batch {args.batch}, "
        f"DataLoader workers: {args.workers} ({'main process' if not args.workers else 'worker processes'}), "
        f"{args.threads} torch thread(s), "
        f"median of {args.rounds} interleaved rounds; naive: {len(chosen)} slices.",
        f"Load during the rounds: {'; '.join(loads)}.",
        "",
        "Wall-clock rates depend on how busy the shared machine is; slices per CPU second of the loading process",
        "(all its threads) do not, and bound what 2 dedicated cores deliver (at most twice that with 2 workers).",
        "",
        "| pipeline | augmented slices/s (wall) | vs naive | vs MONAI CacheDataset + PatchIterd | slices per CPU second | vs naive | vs MONAI CacheDataset + PatchIterd |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("naive", "monai_patchiter", "cached", "cached+batch", "store", "store+batch"):
        lines.append(
            f"| {name} | {med[name]:.1f} | {med[name] / naive_rate:.0f}x | {med[name] / med['monai_patchiter']:.2f}x "
            f"| {cpu[name]:.1f} | {cpu[name] / cpu['naive']:.0f}x | {cpu[name] / cpu['monai_patchiter']:.2f}x |"
        )
    lines += ["", "One-off builds (each volume decoded once): " + ", ".join(f"{k} {v:.1f} s" for k, v in builds.items()) + "."]
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        # one section per setting: data, data_threads2, data_workers2, ...
        section = "data" + (f"_threads{args.threads}" if args.threads != 1 else "") + (f"_workers{args.workers}" if args.workers else "")
        setting = [f"{args.threads} torch threads"] if args.threads != 1 else []
        setting += [f"{args.workers} DataLoader workers"] if args.workers else []
        title = "Data: augmented training slices/s" + (f" ({', '.join(setting)})" if setting else "")
        write_section(section, header(title) + "\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
