#!/usr/bin/env python
"""UNet++ pruning: inference time of fast mode at each level relative to accurate mode, measured in one run.

Builds UNet++ (width 32, depth 4, 4 input channels as MSD Task01, batch norm) and times inference on random
4 x 144 x 144 slices, round-robin over the modes so that load hits all alike; prints a Markdown table and
RATIO lines. Run from the repository root:

    .venv/bin/python scripts/benchmark_unetplusplus.py --batch_size 8 --iterations 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from networks import UNetPlusPlus, count_parameters  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch_size", type=int, default=8)
    ap.add_argument("--size", type=int, default=144)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    net = UNetPlusPlus(in_channels=4, out_channels=1, features=args.features, depth=args.depth).eval()
    x = torch.randn(args.batch_size, 4, args.size, args.size)
    modes = [("accurate", None)] + [("fast", level) for level in range(1, args.depth + 1)]
    times: dict[tuple, list[float]] = {m: [] for m in modes}
    with torch.no_grad():
        for r in range(args.iterations + 1):  # round 0 warms up
            for mode in modes:
                net.set_inference_mode(*mode)
                start = time.perf_counter()
                net(x)
                if r:
                    times[mode].append(time.perf_counter() - start)
            print(f"round {r}/{args.iterations}", flush=True)
    base = statistics.median(times[modes[0]])
    print(f"\nUNet++ width {args.features}, depth {args.depth}, {count_parameters(net):,} parameters; batch "
          f"{args.batch_size} x 4 x {args.size}^2, fp32, {torch.get_num_threads()} threads, median of {args.iterations}\n")
    print("| mode | slices/s | time vs accurate |")
    print("|---|---:|---:|")
    for mode in modes:
        t = statistics.median(times[mode])
        label = "accurate (mean of heads)" if mode[0] == "accurate" else f"fast, pruned at level {mode[1]}"
        print(f"| {label} | {args.batch_size / t:.1f} | {t / base:.2f} |")
    for mode in modes[1:]:
        print(f"RATIO fast_level{mode[1]}_time_vs_accurate {statistics.median(times[mode]) / base:.3f}")


if __name__ == "__main__":
    main()
