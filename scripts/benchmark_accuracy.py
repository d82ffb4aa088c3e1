"""Accuracy at equal wall-clock training budget (issue 18): ours (the generic path with the default recipe, `unet`),
MONAI BasicUNet trained by a plain script, and nnU-Net v2 (its own environment), on the real nuclei tiles (train on
one, test on the other, then swap) and the synthetic nnU-Net twins (mri, ct; held-out labelled test cases).

The budget of every data set is the training wall time nnU-Net needed (the sum of its logged epoch times with
`--nnunet_trainer`, nnUNetTrainer_1epoch by default); ours gets it as `--time_limit`, the BasicUNet script as a time
loop. Without nnU-Net's environment (`--nnunet_env`, made by ../shared/tools/nnunet_peer_env.sh) the full mode says so,
skips it and uses `--budget`. Every contender writes label maps of the test images; one scoring (Dice, IoU per
foreground class, experiments/accuracy.py) for all.

    python scripts/benchmark_accuracy.py --datasets nuclei01 nuclei10 mri ct --seeds 0 1
    python scripts/benchmark_accuracy.py --quick          # ours and BasicUNet, a few seconds, one tiny twin

Results: <work_dir>/results.jsonl (one line per run; a rerun with the same work_dir skips the runs already there,
so a long benchmark can be resumed) and <work_dir>/results.md (the table, also printed). The work folder (default
runs/benchmark_accuracy, gitignored) holds the data in the nnU-Net layout, the runs and their logs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments import accuracy  # noqa: E402

DATASETS = ("nuclei01", "nuclei10", "mri", "ct")
# nnU-Net data set numbers of the nuclei swaps (the twins keep theirs: 901 mri, 902 ct)
NUCLEI_IDS = {"nuclei01": 911, "nuclei10": 912}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="ours and BasicUNet only, --budget 3 s, one tiny mri twin (4 training, 2 test cases)")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--work_dir", default=str(ROOT / "runs" / "benchmark_accuracy"))
    parser.add_argument("--nuclei_dir", default=str(ROOT.parent / "shared" / "data" / "nuclei_dev"),
                        help="images/tile_K.png and masks/tile_K.png (read only)")
    parser.add_argument("--twin_training", type=int, default=10, help="training cases of each twin")
    parser.add_argument("--twin_test", type=int, default=4, help="held-out labelled test cases of each twin")
    parser.add_argument("--nnunet_env", default="/work/nnunet_env", help="nnU-Net v2's virtual environment")
    parser.add_argument("--nnunet_trainer", default="nnUNetTrainer_1epoch")
    parser.add_argument("--nnunet_seeds", type=int, default=1,
                        help="nnU-Net trainings per data set (it takes no seed; each is a new random run)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of training when nnU-Net is skipped (default 60; --quick: 3)")
    parser.add_argument("--max_budget", type=float, default=0.0,
                        help="cap of the budget of ours and BasicUNet in seconds (0: none); the table shows the budget "
                             "each run had, so a capped run is visible")
    parser.add_argument("--features", type=int, default=16, help="base width of ours (--plan#features)")
    parser.add_argument("--iterations_per_epoch", type=int, default=50,
                        help="ours: batches per epoch, each ending with a checkpoint (the bundle's default; the time "
                             "limit ends training after the iteration in which it runs out)")
    parser.add_argument("--epochs", type=int, default=0,
                        help="ours: train exactly this many epochs instead of the wall-time budget (0: the budget); "
                             "e.g. to compare precisions at equal epochs")
    parser.add_argument("--ours_extra", default="",
                        help="further overrides for ours, one string, e.g. \"--learning_rate 3e-3\"")
    parser.add_argument("--variant", default=None,
                        help="also run ours with this variant file, e.g. bundles/attention_unet/configs/variant.yaml")
    parser.add_argument("--no_basic_unet", action="store_true", help="skip the BasicUNet script")
    parser.add_argument("--no_ours", action="store_true", help="skip ours (e.g. to run it in another process)")
    return parser


def prepare(name: str, raw_dir: Path, args: argparse.Namespace) -> accuracy.Dataset:
    """The data set ``name`` in ``raw_dir`` (written once; a later run reads the description file)."""
    info = raw_dir / f"{name}.json"
    if info.is_file():
        d = json.loads(info.read_text())
        return accuracy.Dataset(d, root=Path(d["root"]), labels_ts=Path(d["labels_ts"]))
    if name.startswith("nuclei"):
        data = accuracy.prepare_nuclei(args.nuclei_dir, raw_dir, int(name[-2]), int(name[-1]), NUCLEI_IDS[name])
    elif args.quick:
        data = accuracy.prepare_twin(raw_dir, name, num_training=4, num_test=2, seed=0, spatial_size=(32, 32, 8))
    else:
        data = accuracy.prepare_twin(raw_dir, name, num_training=args.twin_training, num_test=args.twin_test, seed=0)
    info.write_text(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in data.items()}, indent=1))
    return data


def load_results(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def mean_spread(values: list[float], digits: int = 3) -> str:
    """``mean ± standard deviation`` of the values that are not NaN (one value: itself; none: n/a)."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def table(results: list[dict], datasets: list[str]) -> str:
    """Markdown: one row per data set and contender (mean ± standard deviation over the seeds), then ratios."""
    lines = ["| data set | contender | seeds | Dice | IoU | iterations | training s | budget s |",
             "|---|---|---|---|---|---|---|---|"]
    ratios = []
    for name in datasets:
        rows = [r for r in results if r["dataset"] == name]
        best: dict[str, float] = {}
        for contender in dict.fromkeys(r["contender"] for r in rows):
            sel = [r for r in rows if r["contender"] == contender]
            dice = [r["dice"] for r in sel]
            best[contender] = statistics.mean(dice)
            lines.append(
                f"| {name} | {contender} | {len(sel)} | {mean_spread(dice)} | {mean_spread([r['iou'] for r in sel])} "
                f"| {mean_spread([r['iterations'] for r in sel], 0)} "
                f"| {mean_spread([r['train_seconds'] for r in sel], 0)} | {sel[0]['budget']:.0f} |"
            )
        peers = {k: v for k, v in best.items() if not k.startswith("ours")}
        for contender, ours in best.items():
            if not contender.startswith("ours") or not peers:
                continue
            peer, value = max(peers.items(), key=lambda kv: kv[1])
            verdict = "ours wins" if ours >= value else f"{peer} wins"
            ratios.append(f"- {name}: Dice {contender} / best peer ({peer}) = {ours:.3f} / {value:.3f} = "
                          f"{ours / max(value, 1e-9):.3f}: {verdict}")
    return "\n".join(lines + [""] + ratios)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.datasets, args.features, args.iterations_per_epoch = ["mri"], 8, 2
    if args.budget is None:
        args.budget = 3.0 if args.quick else 60.0
    work = Path(args.work_dir)
    raw = work / "nnUNet_raw"
    raw.mkdir(parents=True, exist_ok=True)
    results_file = work / "results.jsonl"
    results = load_results(results_file)
    done = {(r["dataset"], r["contender"], r["seed"]) for r in results}
    use_nnunet = not args.quick and accuracy.nnunet_available(args.nnunet_env)
    if not args.quick and not use_nnunet:
        print(f"nnU-Net skipped: no environment at {args.nnunet_env} (make it with "
              f"../shared/tools/nnunet_peer_env.sh {args.nnunet_env}); budget {args.budget:.0f} s")
    extra = args.ours_extra.split() if args.ours_extra else []
    # each set of overrides trains in folders of its own (two runs with different --ours_extra share a work folder)
    extra_tag = "_x" + hashlib.sha1(args.ours_extra.encode()).hexdigest()[:8] if extra else ""

    def record(entry: dict) -> None:
        results.append(entry)
        with results_file.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        print(f"{entry['dataset']} {entry['contender']} seed {entry['seed']}: Dice {entry['dice']:.4f} IoU "
              f"{entry['iou']:.4f}, {entry['iterations']} iterations, {entry['train_seconds']:.1f} s", flush=True)

    for name in args.datasets:
        data = prepare(name, raw, args)
        budget = args.budget
        if use_nnunet:
            nnunet = "nnU-Net v2 (" + args.nnunet_trainer + ")"
            for s in range(args.nnunet_seeds):
                if (name, nnunet, s) not in done:
                    run = accuracy.run_nnunet(data, work, args.nnunet_env, f"{name}_nnunet_{s}", args.nnunet_trainer)
                    record({"dataset": name, "contender": nnunet, "seed": s, "budget": run["train_seconds"],
                            **run, **accuracy.score_predictions(run["pred_dir"], data)})
            budget = statistics.mean(r["train_seconds"] for r in results if r["dataset"] == name
                                     and r["contender"] == nnunet)
        if args.max_budget > 0:
            budget = min(budget, args.max_budget)
        for seed in args.seeds:
            label = "unet" + (f" {args.ours_extra}" if extra else "")
            contenders = [] if args.no_ours else [(f"ours ({label})", None)]
            if args.variant and not args.no_ours:
                contenders.append((f"ours ({Path(args.variant).parts[-3]}{label[4:]})", args.variant))
            for contender, variant in contenders:
                if (name, contender, seed) in done:
                    continue
                tag = ("ours_unet" if variant is None else "ours_" + Path(variant).parts[-3]) + extra_tag
                run = accuracy.run_ours(data, work / "runs" / f"{name}_{tag}_{seed}", budget, seed,
                                        features=args.features, iterations_per_epoch=args.iterations_per_epoch,
                                        variant=variant, extra=extra, fingerprint_dir=work / "fingerprints",
                                        epochs=args.epochs)
                record({"dataset": name, "contender": contender, "seed": seed, "budget": budget, **run,
                        **accuracy.score_predictions(run["pred_dir"], data)})
            if not args.no_basic_unet and (name, "MONAI BasicUNet script", seed) not in done:
                run = accuracy.train_basic_unet(data, work / "runs" / f"{name}_basicunet_{seed}", budget, seed)
                record({"dataset": name, "contender": "MONAI BasicUNet script", "seed": seed, "budget": budget,
                        **run, **accuracy.score_predictions(run["pred_dir"], data)})
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = "?"
    header = (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}, {platform.machine()} "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end, seeds {args.seeds}")
    text = header + "\n\n" + table(results, [d for d in DATASETS if any(r["dataset"] == d for r in results)])
    commands = {}
    for r in results:
        commands.setdefault((r["dataset"], r["contender"]), r["command"])
    text += "\n\nCommands (first seed):\n" + "\n".join(f"- {d} {c}: `{cmd}`" for (d, c), cmd in commands.items())
    (work / "results.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
