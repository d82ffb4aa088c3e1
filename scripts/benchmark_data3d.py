"""Benchmark: augmented 3D training patches per second, ours vs nnU-Net's own data loader, same volumes and patch
size, in one run.

* ``ours``: the generic path as it ships (``bundles/unet/configs/train.yaml`` + ``bundles/common/configs/
  any_dataset.yaml``, ``--spatial_dims 3``): the format's reader and the plan's pre-processing cached in memory
  (``VolumeCacheDataset``), ``PatchDataset`` (one patch in three centred on a labelled voxel), the default recipe's
  augmentation (``data#augmentation``), ``data#train_loader``; with 0 DataLoader workers (main process) and with 1.
  Two more rows of ours: the affine transform at nnU-Net's resampling rate (p 0.36), and the chain with the other
  implementation of the same affine draws (MONAI's ``RandAffined`` for the shipped ``transforms.FastRandAffined``).
* ``nnU-Net``: ``nnUNetv2_plan_and_preprocess -c 3d_fullres`` of the same raw files, then nnUNetTrainer's training
  loader (``nnUNetDataLoader`` + ``get_training_transforms``, scripts/benchmark_data3d_nnunet.py), run by nnU-Net's
  own Python (``--nnunet_python``; nnU-Net is never imported here): single-threaded (``SingleThreadedAugmenter``,
  as ``nnUNet_n_proc_DA=0``) and with 1 background worker (``NonDetMultiThreadedAugmenter``, as
  ``nnUNet_n_proc_DA=1``).

Data: a synthetic nnU-Net raw data set (formats/nnunet_v2/synthetic.py, kind ``mri``: one channel, three classes)
with isotropic 1 mm voxels (so neither side switches to nnU-Net's 2D augmentation of anisotropic data), written
under ``--work_dir`` (runs/, gitignored). The patch is nnU-Net's 3d_fullres plan's (its axes reversed: nnU-Net
reads NIfTI through SimpleITK, z y x; ours through nibabel, x y z) or ``--patch_size``; batch size 2 on both sides.
Rates are patches per wall second over ``--batches`` batches after ``--warmup`` batches; in the main-process settings
also per CPU second of the loading process (independent of the machine's load). Rounds are interleaved (ours, then
theirs), the median round counts; the load (``os.getloadavg``) is recorded before and after every round.

Examples:
    python scripts/benchmark_data3d.py                # full: 8 cases of 160 x 160 x 96, writes docs/benchmarks.md
    python scripts/benchmark_data3d.py --quick        # smoke test: ours only, tiny data, nothing written
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, header, load, write_section  # noqa: E402

sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from monai.bundle import ConfigParser  # noqa: E402
from monai.data import DataLoader  # noqa: E402
from monai.transforms import RandAffined, apply_transform  # noqa: E402

from formats.nnunet_v2.synthetic import SYNTHETIC_KINDS, generate_nnunet_v2  # noqa: E402
from transforms.affine import FastRandAffined  # noqa: E402

CONFIGS = [ROOT / "bundles/unet/configs/train.yaml", ROOT / "bundles/common/configs/any_dataset.yaml"]
NNUNET_SIDE = Path(__file__).resolve().parent / "benchmark_data3d_nnunet.py"
NNUNET_PYTHON = "/work/nnunet_env/bin/python"
SECTION = "data3d"
NNUNET_RESAMPLING = 0.36  # nnU-Net's chance that SpatialTransform interpolates: rotation 0.2 or scaling 0.2


def build_parser(dataset_dir: str, work_dir: Path, patch_size: list[int], batch_size: int, samples: int) -> ConfigParser:
    """The generic path's training config (train.yaml + any_dataset.yaml, 3D) on ``dataset_dir``: every case for
    training, the plan's patch and batch size replaced, fingerprint and plan kept under ``work_dir``."""
    parser = ConfigParser()
    parser.read_config([str(p) for p in CONFIGS])
    parser.update({
        "dataset_dir": dataset_dir, "spatial_dims": 3, "val_fraction": 0.0, "num_workers": 0,
        "plan": {"patch_size": list(patch_size), "batch_size": int(batch_size)},
        "fingerprint_dir": str(work_dir / "fingerprints"), "ckpt_dir": str(work_dir / "ours_ckpt"),
        "iterations_per_epoch": max(1, -(-samples // int(batch_size))),
    })  # fmt: skip
    return parser


def time_batches(loader, warmup: int, batches: int) -> dict:
    """Patches per wall second (and per CPU second of this process) over ``batches`` batches after ``warmup``, from
    a fresh iterator of ``loader`` (worker start-up falls in the warm-up)."""
    it = iter(loader)
    for _ in range(warmup):
        next(it)
    n = 0
    t, c = time.perf_counter(), time.process_time()
    for _ in range(batches):
        n += int(next(it)["image"].shape[0])
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    del it  # stops the workers
    return {"patches": n, "seconds": wall, "patches_per_s": n / wall, "patches_per_cpu_s": n / max(cpu, 1e-9)}


def profile_stages(dataset, patches: int, seed: int = 0) -> dict[str, float]:
    """CPU milliseconds per patch of each stage of ours, in this process (one thread: CPU time does not depend on
    the machine's load): ``PatchDataset``'s sampling and crop (its transform off), then every transform of its
    chain on its own. The sampler and the chain are seeded with ``seed`` first, so two chains that draw alike (MONAI's
    RandAffined and FastRandAffined) are profiled on the same patches with the same draws."""
    dataset.set_random_state(seed)
    transforms = list(dataset.transform.transforms)
    names = [type(t).__name__ for t in transforms]
    times = dict.fromkeys(["sampling + crop (PatchDataset)", *names], 0.0)
    chain, dataset.transform = dataset.transform, None
    try:
        for i in range(patches):
            t0 = time.process_time()
            sample = dataset[i]
            times["sampling + crop (PatchDataset)"] += time.process_time() - t0
            for name, t in zip(names, transforms):
                t0 = time.process_time()
                sample = apply_transform(t, sample)
                times[name] += time.process_time() - t0
    finally:
        dataset.transform = chain
    return {k: 1000.0 * v / patches for k, v in times.items()}


def with_affine_prob(dataset, prob: float):
    """A shallow copy of ``dataset`` whose chain's ``RandAffined`` applies with probability ``prob``."""
    chain = copy.deepcopy(dataset.transform)
    affines = [t for t in chain.transforms if isinstance(t, RandAffined)]
    if not affines:
        raise ValueError("the augmentation chain has no RandAffined")
    for t in affines:
        t.prob = float(prob)
    other = copy.copy(dataset)
    other.transform = chain
    return other


def with_other_affine(dataset):
    """``(name, dataset)``: a shallow copy of ``dataset`` whose chain has its affine transform swapped for the other
    implementation of the same draws: MONAI's ``RandAffined`` for :class:`transforms.FastRandAffined` (what the
    generic path ships), or the reverse; None when the chain has neither."""
    chain = copy.deepcopy(dataset.transform)
    swapped, name = [], None
    for t in chain.transforms:
        if type(t) is FastRandAffined:
            t = copy.copy(t)
            t.__class__ = RandAffined  # the subclass adds no state of its own
            name = "MONAI RandAffined"
        elif type(t) is RandAffined:
            t, name = FastRandAffined.from_rand_affined(t), "transforms.FastRandAffined"
        swapped.append(t)
    if name is None:
        return None
    chain.transforms = tuple(swapped)
    other = copy.copy(dataset)
    other.transform = chain
    return name, other


def nnunet_env(work_dir: Path, workers: int | None = None) -> dict:
    env = dict(os.environ)
    env.update({
        "nnUNet_raw": str(work_dir / "raw"), "nnUNet_preprocessed": str(work_dir / "preprocessed"),
        "nnUNet_results": str(work_dir / "results"),
    })  # fmt: skip
    if workers is not None:
        env["nnUNet_n_proc_DA"] = str(workers)
    return env


def nnunet_plan(python: str, work_dir: Path, dataset_id: int) -> tuple[dict, float]:
    """``nnUNetv2_plan_and_preprocess -c 3d_fullres`` of the raw data set in nnU-Net's environment; its 3d_fullres
    plan (with ``transpose_forward``) and the seconds it took."""
    exe = Path(python).parent / "nnUNetv2_plan_and_preprocess"
    t = time.perf_counter()
    proc = subprocess.run(
        [str(exe), "-d", str(dataset_id), "-c", "3d_fullres", "-np", "1"], env=nnunet_env(work_dir),
        capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{exe} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    plans_file = next((work_dir / "preprocessed").glob("Dataset*/nnUNetPlans.json"))
    plans = json.loads(plans_file.read_text())
    config = dict(plans["configurations"]["3d_fullres"])
    config["transpose_forward"] = plans["transpose_forward"]
    config["dataset_name"] = plans["dataset_name"]
    return config, seconds


def ours_axes(nnunet_patch: list[int], transpose_forward: list[int]) -> list[int]:
    """nnU-Net's patch (axes of its SimpleITK arrays, z y x, after ``transpose_forward``) in our axis order (x y z)."""
    sitk_order = [0] * len(nnunet_patch)
    for i, axis in enumerate(transpose_forward):
        sitk_order[axis] = int(nnunet_patch[i])
    return sitk_order[::-1]


def nnunet_axes(patch: list[int], transpose_forward: list[int]) -> list[int]:
    """Inverse of :func:`ours_axes`."""
    sitk_order = list(patch)[::-1]
    return [int(sitk_order[axis]) for axis in transpose_forward]


def run_nnunet(python: str, work_dir: Path, dataset: str, patch: list[int], args) -> dict:
    """nnU-Net's loader timed in its environment (scripts/benchmark_data3d_nnunet.py); its JSON report."""
    cmd = [
        python, str(NNUNET_SIDE), "--dataset", dataset, "--patch_size", *map(str, patch), "--batch_size",
        str(args.batch_size), "--batches", str(args.batches), "--warmup", str(args.warmup), "--workers",
        *map(str, args.workers), "--profile", str(args.profile),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=nnunet_env(work_dir, max(args.workers)), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"nnU-Net's loader failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="ours only, tiny data, a few batches, nothing written")
    ap.add_argument("--cases", type=int, default=8, help="synthetic training cases")
    ap.add_argument("--spatial_size", type=int, nargs=3, default=(160, 160, 96), help="voxels per case, X Y Z")
    ap.add_argument("--patch_size", type=int, nargs=3, default=None,
                    help="X Y Z (our axis order); default: nnU-Net's 3d_fullres plan's patch")  # fmt: skip
    ap.add_argument("--batch_size", type=int, default=2)
    ap.add_argument("--batches", type=int, default=40, help="timed batches per setting")
    ap.add_argument("--warmup", type=int, default=4, help="batches before timing (worker start-up included)")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1], help="DataLoader workers (0: main process)")
    ap.add_argument("--profile", type=int, default=40, help="patches of the per-stage profile of each side (0: none)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (median)")
    ap.add_argument("--work_dir", default=str(ROOT / "runs" / "benchmark_data3d"), help="data and nnU-Net folders")
    ap.add_argument("--nnunet_python", default=NNUNET_PYTHON, help="Python of nnU-Net's environment")
    ap.add_argument("--no_nnunet", action="store_true", help="ours only")
    ap.add_argument("--no_write", action="store_true", help="do not write docs/benchmarks.md")
    args = ap.parse_args(argv)
    tmp = None
    if args.quick:
        tmp = tempfile.TemporaryDirectory()
        args.cases, args.spatial_size, args.patch_size = 2, (24, 24, 16), [16, 16, 16]
        args.batches, args.warmup, args.rounds, args.work_dir, args.profile = 2, 1, 1, tmp.name, 2
        args.no_nnunet = args.no_write = True
    with_nnunet = not args.no_nnunet
    if with_nnunet and not Path(args.nnunet_python).is_file():
        raise FileNotFoundError(
            f"{args.nnunet_python}: no nnU-Net environment; make one with ../shared/tools/nnunet_peer_env.sh DIR and "
            "pass --nnunet_python DIR/bin/python, or run ours alone with --no_nnunet."
        )

    # one intra-op thread in the loading process on both sides (DataLoader and batchgenerators workers set 1)
    torch.set_num_threads(1)
    loads = [f"start: {load()}"]
    work_dir = Path(args.work_dir).resolve()
    folder = SYNTHETIC_KINDS["mri"][0]
    raw = work_dir / "raw"
    for sub in (raw / folder, *(work_dir / name for name in ("preprocessed", "results", "fingerprints", "ours_ckpt"))):
        shutil.rmtree(sub, ignore_errors=True)  # this script's own folders, from an earlier run
    t = time.perf_counter()
    dataset_dir = generate_nnunet_v2(
        raw, kind="mri", num_training=args.cases, num_test=0, spatial_size=tuple(args.spatial_size), seed=0,
        spacing=(1.0, 1.0, 1.0),
    )  # fmt: skip
    print(f"synthetic data: {args.cases} cases of {tuple(args.spatial_size)} in {time.perf_counter() - t:.1f} s: {dataset_dir}")

    builds: dict[str, float] = {}
    theirs_plan = None
    if with_nnunet:
        theirs_plan, builds["nnUNetv2_plan_and_preprocess (3d_fullres, 1 process)"] = nnunet_plan(
            args.nnunet_python, work_dir, int(folder[len("Dataset") : len("Dataset") + 3])
        )
        print(f"nnU-Net 3d_fullres plan: patch {theirs_plan['patch_size']}, batch {theirs_plan['batch_size']}")
    transpose = theirs_plan["transpose_forward"] if theirs_plan else [0, 1, 2]
    patch = list(args.patch_size) if args.patch_size else ours_axes(theirs_plan["patch_size"], transpose)

    # ours: the shipped config, parsed
    samples = (args.warmup + args.batches) * args.batch_size
    parser = build_parser(str(dataset_dir), work_dir, patch, args.batch_size, samples)
    t = time.perf_counter()
    shipped = parser.get_parsed_content("data#train_loader", lazy=False)
    builds["ours: fingerprint, plan, pre-processing cache"] = time.perf_counter() - t
    dataset = shipped.dataset
    transforms = [type(t).__name__ for t in dataset.transform.transforms]

    def loader_of(ds, workers: int):
        if ds is dataset and workers == shipped.num_workers:
            return shipped
        return DataLoader(
            ds, batch_size=shipped.batch_size, shuffle=False, num_workers=workers, collate_fn=shipped.collate_fn
        )

    # rows: (setting, DataLoader workers, loader). nnU-Net resamples when it rotates (p 0.2) or scales (p 0.2,
    # independently): 1 - 0.8^2 = 0.36 of its patches; ours rotates and scales in one RandAffined (the recipe's
    # spatial_prob, 0.2): the same rate as a row of its own. The other affine: the same chain with the shipped
    # transforms.FastRandAffined replaced by MONAI's RandAffined (same draws, same output, slower resampling).
    other = with_other_affine(dataset)
    settings = []
    for workers in args.workers:
        name = f"{workers} worker(s) (nnUNet_n_proc_DA={workers})"
        if workers == 0:
            name = "main process (0 workers / single-threaded)"
        settings.append((name, workers, loader_of(dataset, workers)))
    if 0 in args.workers:
        settings.append((f"main process, ours with RandAffined p {NNUNET_RESAMPLING} (nnU-Net's resampling rate)", 0,
                         loader_of(with_affine_prob(dataset, NNUNET_RESAMPLING), 0)))  # fmt: skip
    if other is not None:
        for workers in args.workers:
            where = "main process" if workers == 0 else f"{workers} worker(s)"
            settings.append((f"{where}, ours with {other[0]}", workers, loader_of(other[1], workers)))
    ours: dict[str, list[dict]] = {name: [] for name, _, _ in settings}
    theirs: dict[int, list[dict]] = {w: [] for w in args.workers}
    info: dict = {}
    profiles: dict[str, dict[str, float]] = {}
    for r in range(args.rounds):
        loads.append(f"round {r + 1} before: {load()}")
        for name, workers, loader in settings:
            result = time_batches(loader, args.warmup, args.batches)
            ours[name].append(result)
            print(f"  round {r + 1}, {name}: {result['patches_per_s']:.2f} patches/s (ours)")
        if with_nnunet:
            report = run_nnunet(args.nnunet_python, work_dir, theirs_plan["dataset_name"], nnunet_axes(patch, transpose), args)
            info, profiles["nnU-Net"] = report["info"], report.get("profile", {})
            for workers in args.workers:
                theirs[workers].append(report["results"][str(workers)])
                print(f"  round {r + 1}, nnU-Net, {workers} worker(s): {theirs[workers][-1]['patches_per_s']:.2f} patches/s")
        loads.append(f"round {r + 1} after: {load()}")
    if args.profile:
        profiles["ours"] = profile_stages(dataset, args.profile)
        if other is not None:
            profiles[f"ours with {other[0]}"] = profile_stages(other[1], args.profile)
    if tmp is not None:
        tmp.cleanup()

    def med(results: list[dict], key: str) -> float:
        return statistics.median(x[key] for x in results) if results else float("nan")

    n_cases = len(dataset.volumes)
    patch_source = "--patch_size" if args.patch_size else "nnU-Net's 3d_fullres plan's"
    shapes = [tuple(int(s) for s in v["image"].shape[1:]) for v in dataset.volumes]
    lines = [
        f"{n_cases} cases of {tuple(args.spatial_size)} voxels (1 mm, one channel, three classes; after cropping to the "
        f"non-zero region {min(shapes)} .. {max(shapes)}), patch {tuple(patch)} (x y z; "
        f"{patch_source}), batch {args.batch_size}; "
        f"{args.batches} batches timed after {args.warmup}, median of {args.rounds} interleaved round(s); "
        "1 torch thread in each loading process.",
        f"Ours: {' -> '.join(transforms)} (data#train_dataset of train.yaml + any_dataset.yaml, parsed).",
    ]
    if info:
        lines.append(
            f"nnU-Net: nnUNetDataLoader (initial patch {tuple(info['initial_patch_size'])} (z y x), "
            f"{info['cases']} cases, oversample_foreground_percent {info['oversample_foreground_percent']}) + "
            f"{' -> '.join(info['transforms'])} (nnUNetTrainer.get_training_transforms)."
        )
    lines += [
        f"Load (1, 5, 15 min): {'; '.join(loads)}.",
        "",
        "| setting (cores for loading) | ours patches/s | nnU-Net patches/s | ours / nnU-Net "
        "| ours patches per CPU s | nnU-Net patches per CPU s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, workers, _ in settings:
        o, t_ = med(ours[name], "patches_per_s"), med(theirs[workers], "patches_per_s")
        cpu_o = f"{med(ours[name], 'patches_per_cpu_s'):.2f}" if workers == 0 else "-"
        cpu_t = f"{med(theirs[workers], 'patches_per_cpu_s'):.2f}" if workers == 0 and with_nnunet else "-"
        theirs_s, ratio_s = (f"{t_:.2f}", f"{o / t_:.2f}x") if with_nnunet else ("-", "-")
        lines.append(f"| {name} | {o:.2f} | {theirs_s} | {ratio_s} | {cpu_o} | {cpu_t} |")
        print(f"ours, {name}: {o:.2f} patches/s")
    for side, profile in profiles.items():
        stages = ", ".join(f"{k} {v:.1f}" for k, v in profile.items())
        lines += ["", f"Where the time goes ({side}), CPU ms per patch over {args.profile} patches, one process: {stages}; "
                      f"sum {sum(profile.values()):.1f} ms."]  # fmt: skip
    lines += ["", "One-off builds: " + ", ".join(f"{k} {v:.1f} s" for k, v in builds.items()) + "."]
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_section(SECTION, header("3D data pipeline: patches/s, ours vs nnU-Net's loader") + "\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
