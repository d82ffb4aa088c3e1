"""Benchmark (4) memory: peak RSS of a 1-epoch training run of bundles/unet at two data-set sizes (4x apart in case
count), on the slice store and, as the peer, on the in-memory cache, each run in its own process.

Each run is ``monai.bundle.run`` of bundles/unet/configs/train.yaml (1 epoch, training + validation, a small network
so that the run is short: memory of the data pipeline is what is compared) in a fresh Python process, which
reports its own ``getrusage(RUSAGE_SELF).ru_maxrss`` at the end. The store is written beforehand (by
scripts/build_slice_store.py's code path, in the parent process), so the runs measure training only.

Examples:
    python scripts/benchmark_memory.py             # full: 2 and 8 cases of 240 x 240 x 155, writes docs/benchmarks.md
    python scripts/benchmark_memory.py --quick     # smoke test: 2 and 8 tiny cases, nothing written
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, header, load, write_section  # noqa: E402

sys.path.insert(0, str(ROOT))

STORE_DATA = "%bundles/common/configs/msd_task01_2d_store.yaml#data"


def child(args_json: str) -> int:
    """Run one training in this process and print its peak RSS (MiB) as the last line, as JSON."""
    import resource

    from monai.bundle import run

    overrides = json.loads(args_json)
    t = time.perf_counter()
    run(config_file=str(ROOT / "bundles/unet/configs/train.yaml"), **overrides)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"peak_rss_mb": peak, "seconds": time.perf_counter() - t}))
    return 0


def subset(dataset_dir: Path, cases: int, out: Path) -> Path:
    """An MSD folder listing the first ``cases`` training cases of ``dataset_dir`` (files linked, not copied)."""
    meta = json.loads((dataset_dir / "dataset.json").read_text())
    meta["training"] = meta["training"][:cases]
    meta["numTraining"] = cases
    meta["test"] = []
    meta["numTest"] = 0
    for sub in ("imagesTr", "labelsTr"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for item in meta["training"]:
        for key in ("image", "label"):
            rel = item[key].lstrip("./")
            os.symlink(dataset_dir / rel, out / rel)
    (out / "dataset.json").write_text(json.dumps(meta))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny cases, nothing written")
    ap.add_argument("--cases", type=int, default=2, help="the smaller data set; the larger has 4x as many")
    ap.add_argument("--spatial_size", type=int, nargs=3, default=(240, 240, 155))
    ap.add_argument("--pipelines", nargs="+", default=["store", "cached"], choices=["store", "cached"])
    ap.add_argument("--no_write", action="store_true")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        return child(args.child)
    roi, features = [144, 144], 8
    if args.quick:
        args.cases, args.spatial_size, args.no_write, roi, features = 2, (32, 32, 12), True, [32, 32], 4

    from monai.bundle import ConfigParser

    from transforms import generate_msd_task01

    sizes = [args.cases, 4 * args.cases]
    results: dict[tuple[str, int], dict] = {}
    loads = [load()]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        full = generate_msd_task01(tmp / "full", num_training=sizes[1], num_test=0, spatial_size=tuple(args.spatial_size), seed=0)
        print(f"synthetic data: {sizes[1]} cases of {tuple(args.spatial_size)} in {time.perf_counter() - t:.1f} s")
        dirs = {sizes[0]: subset(Path(full), sizes[0], tmp / "small"), sizes[1]: Path(full)}
        store_dir = tmp / "store"
        parser = ConfigParser()
        parser.read_config(str(ROOT / "bundles/unet/configs/train.yaml"))
        parser.update({"dataset_dir": str(full), "store_dir": str(store_dir), "data": STORE_DATA})
        parser.resolve_macro_and_relative_ids()
        t = time.perf_counter()
        parser.get_parsed_content("data#store")
        store_seconds = time.perf_counter() - t
        store_mb = sum(f.stat().st_size for f in store_dir.iterdir()) / 2**20
        for pipeline in args.pipelines:
            for n in sizes:
                overrides = {
                    "dataset_dir": str(dirs[n]), "output_dir": str(tmp / f"run_{pipeline}_{n}"),
                    "ckpt_dir": str(tmp / f"ckpt_{pipeline}_{n}"), "epochs": 1, "target_params": 0,
                    "features": features, "roi_size": roi, "val_fraction": 0.5, "device": "cpu", "num_workers": 0,
                }  # fmt: skip
                if pipeline == "store":
                    overrides.update({"data": STORE_DATA, "store_dir": str(store_dir)})
                cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(overrides)]
                proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise RuntimeError(f"{pipeline} with {n} cases failed:\n{proc.stderr[-3000:]}")
                results[(pipeline, n)] = json.loads(proc.stdout.strip().splitlines()[-1])
                loads.append(load())
                print(f"  {pipeline}, {n} cases: {results[(pipeline, n)]}")

    slices = {n: n * args.spatial_size[2] for n in sizes}
    lines = [
        f"1 epoch of bundles/unet (training on half of the cases + validation on the other half, roi {roi[0]} x {roi[1]}, batch 40, "
        f"width-{features} network), cases of {tuple(args.spatial_size)} x 4; each run in its own process, peak RSS by "
        f"getrusage. Store: {store_mb:.0f} MiB on disk for {sizes[1]} cases, written in {store_seconds:.1f} s before the runs.",
        f"Load: {loads[0]} (start); {loads[-1]} (end).",
        "",
        f"| pipeline | peak RSS, {sizes[0]} cases | peak RSS, {sizes[1]} cases | growth for 4x cases | run time {sizes[0]} / {sizes[1]} cases |",
        "|---|---:|---:|---:|---:|",
    ]
    for pipeline in args.pipelines:
        a, b = results[(pipeline, sizes[0])], results[(pipeline, sizes[1])]
        lines.append(
            f"| {pipeline} | {a['peak_rss_mb']:.0f} MiB | {b['peak_rss_mb']:.0f} MiB | {b['peak_rss_mb'] / a['peak_rss_mb']:.2f}x "
            f"(+{b['peak_rss_mb'] - a['peak_rss_mb']:.0f} MiB) | {a['seconds']:.0f} s / {b['seconds']:.0f} s |"
        )
    lines.append(f"\n({slices[sizes[0]]} and {slices[sizes[1]]} slices in all.)")
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_section("memory", header("Memory: peak RSS of training at two data-set sizes") + "\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
