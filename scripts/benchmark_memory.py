"""Benchmark (4) memory: peak RSS of training at two data-set sizes (4x apart in case count), on the slice store and,
as the peer, on the in-memory cache, each run in its own process and repeated.

Two measurements per pipeline and size, each in a fresh Python process that reports its own peak RSS, the
``VmHWM`` of /proc/self/status (not ``getrusage``'s ``ru_maxrss``: Linux carries that across ``execve``, so every
child would report at least the parent's peak; the parent writes the stores, ~1.2 GiB):

* **training**: ``monai.bundle`` training of bundles/unet/configs/train.yaml, 1 epoch (training + validation), a
  small network so that the run is short. Its peak is the training step's (activations of a batch of 40 slices),
  which varies by ~100 MiB from run to run with identical settings (where the allocator's heap happens to peak),
  so each run is repeated (``--repeats``, interleaved) and the median and range are given.
* **data only**: the same bundle's data pipeline without the network: one pass of the training loader (every
  augmented slice, in batches) and of the validation loader (every validation volume). This is the part whose
  memory could grow with the number of cases; without the network's activations its peak is reproducible to a
  few MiB. Each batch is released before the next is loaded (in training, Ignite's ``state.batch`` holds the last
  one during the next load: two validation volumes at once, a constant, once there are two or more).

Each data-set size has its own store, written beforehand in the parent process (scripts/build_slice_store.py's code
path), so the runs measure training only, never a store write.

Examples:
    python scripts/benchmark_memory.py             # full: 2 and 8 cases of 240 x 240 x 155, writes docs/benchmarks.md
    python scripts/benchmark_memory.py --quick     # smoke test: 2 and 8 tiny cases, nothing written
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, header, load, peak_rss_mb, write_section  # noqa: E402

sys.path.insert(0, str(ROOT))

STORE_FILE = ROOT / "bundles/unet/configs/slice_store.yaml"
TRAIN_CONFIG = ROOT / "bundles/unet/configs/train.yaml"


def _files(store: bool) -> list[str]:
    """The unet bundle's training config list, with the slice-store override file for the store pipeline."""
    return [str(TRAIN_CONFIG), *([str(STORE_FILE)] if store else [])]


def _parser(overrides: dict, store: bool = False):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(_files(store))
    parser.update(overrides)
    return parser


def child(args_json: str) -> int:
    """Run one measurement in this process and print its peak RSS (MiB) as the last line, as JSON."""
    spec = json.loads(args_json)
    mode, overrides, store = spec["mode"], spec["overrides"], spec.get("store", False)
    t = time.perf_counter()
    if mode == "training":
        from monai.bundle import run

        run(config_file=_files(store), **overrides)
    else:  # data only: every training batch and every validation volume, no network
        parser = _parser(overrides, store)
        slices = volumes = 0
        for batch in parser.get_parsed_content("data#train_loader"):
            slices += len(batch["image"])
            del batch  # released before the next is loaded (a for loop alone would hold two at once)
        for batch in parser.get_parsed_content("data#val_loader"):
            volumes += len(batch["image"])
            del batch
        if not slices or not volumes:
            raise RuntimeError(f"data-only run read {slices} slices and {volumes} volumes")
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "seconds": time.perf_counter() - t}))
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


def _snapshot(folder: Path | None) -> dict[str, int]:
    """Modification times of the files of ``folder`` (empty for None): a run that writes the store changes them."""
    return {} if folder is None else {f.name: f.stat().st_mtime_ns for f in folder.iterdir()}


def _stats(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.0f}"
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny cases, one repeat, nothing written")
    ap.add_argument("--cases", type=int, default=2, help="the smaller data set; the larger has 4x as many")
    ap.add_argument("--spatial_size", type=int, nargs=3, default=(240, 240, 155))
    ap.add_argument("--repeats", type=int, default=3, help="runs per pipeline, size and measurement (interleaved)")
    ap.add_argument("--pipelines", nargs="+", default=["store", "cached"], choices=["store", "cached"])
    ap.add_argument("--modes", nargs="+", default=["training", "data"], choices=["training", "data"])
    ap.add_argument("--no_write", action="store_true")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        return child(args.child)
    roi, features = [144, 144], 8
    if args.quick:
        args.cases, args.spatial_size, args.no_write, args.repeats = 2, (32, 32, 12), True, 1
        roi, features = [32, 32], 4

    from tqdm import tqdm

    from formats.msd.synthetic import generate_msd_task01

    sizes = [args.cases, 4 * args.cases]
    results: dict[tuple[str, str, int], list[dict]] = {}
    loads = [load()]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        full = generate_msd_task01(tmp / "full", num_training=sizes[1], num_test=0, spatial_size=tuple(args.spatial_size), seed=0)
        print(f"synthetic data: {sizes[1]} cases of {tuple(args.spatial_size)} in {time.perf_counter() - t:.1f} s")
        dirs = {sizes[0]: subset(Path(full), sizes[0], tmp / "small"), sizes[1]: Path(full)}
        stores, store_mb, store_seconds = {}, {}, {}
        if "store" in args.pipelines:
            for n in sizes:  # each size its own store, written here: the runs never write one
                stores[n] = tmp / f"store_{n}"
                t = time.perf_counter()
                _parser({"dataset_dir": str(dirs[n]), "store_dir": str(stores[n])}, store=True).get_parsed_content("data#store")
                store_seconds[n] = time.perf_counter() - t
                store_mb[n] = sum(f.stat().st_size for f in stores[n].iterdir()) / 2**20
        runs = [(r, m, p, n) for r in range(args.repeats) for m in args.modes for p in args.pipelines for n in sizes]
        for r, mode, pipeline, n in tqdm(runs, desc="memory runs"):
            run_dir = tmp / f"run_{r}_{mode}_{pipeline}_{n}"
            overrides = {
                "dataset_dir": str(dirs[n]), "output_dir": str(run_dir / "out"), "ckpt_dir": str(run_dir / "ckpt"),
                "epochs": 1, "target_params": 0, "features": features, "roi_size": roi, "val_fraction": 0.5,
                "device": "cpu", "num_workers": 0,
            }  # fmt: skip
            if pipeline == "store":
                overrides.update({"store_dir": str(stores[n])})
            spec = json.dumps({"mode": mode, "overrides": overrides, "store": pipeline == "store"})
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", spec]
            before = _snapshot(stores.get(n))
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"{mode} on {pipeline} with {n} cases failed:\n{proc.stderr[-3000:]}")
            if _snapshot(stores.get(n)) != before:
                raise RuntimeError(f"{mode} on {pipeline} with {n} cases wrote store cases: the measurement would include it")
            results.setdefault((mode, pipeline, n), []).append(json.loads(proc.stdout.strip().splitlines()[-1]))
            loads.append(load())
            tqdm.write(f"  {mode}, {pipeline}, {n} cases: {results[(mode, pipeline, n)][-1]}")

    slices = {n: n * args.spatial_size[2] for n in sizes}
    what = {
        "training": "1 epoch of training + validation",
        "data": "data only: one pass of the training and validation loaders, no network",
    }
    lines = [
        f"bundles/unet, training on half of the cases and validating on the other half ({slices[sizes[0]]} / "
        f"{slices[sizes[1]]} slices in all), roi {roi[0]} x {roi[1]}, batch 40, width-{features} network, cases of "
        f"{tuple(args.spatial_size)} x 4; each run in its own process, peak RSS = the process's VmHWM; median (min-max) of "
        f"{args.repeats} interleaved run(s) each.",
    ]
    if stores:
        lines.append(
            "Stores, written before the runs: "
            + "; ".join(f"{n} cases {store_mb[n]:.0f} MiB on disk in {store_seconds[n]:.1f} s" for n in sizes)
            + "."
        )
    lines += [
        f"Load: {loads[0]} (start); {loads[-1]} (end).",
        "",
        f"| measurement | pipeline | peak RSS, {sizes[0]} cases (MiB) | peak RSS, {sizes[1]} cases (MiB) | growth for 4x cases (medians) | run time {sizes[0]} / {sizes[1]} cases |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for mode in args.modes:
        for pipeline in args.pipelines:
            a, b = results[(mode, pipeline, sizes[0])], results[(mode, pipeline, sizes[1])]
            pa, pb = ([x["peak_rss_mb"] for x in v] for v in (a, b))
            ma, mb = statistics.median(pa), statistics.median(pb)
            ta, tb = (statistics.median(x["seconds"] for x in v) for v in (a, b))
            lines.append(
                f"| {what[mode]} | {pipeline} | {_stats(pa)} | {_stats(pb)} | {mb / ma:.2f}x ({mb - ma:+.0f} MiB) "
                f"| {ta:.0f} s / {tb:.0f} s |"
            )
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_section("memory", header("Memory: peak RSS of training at two data-set sizes") + "\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
