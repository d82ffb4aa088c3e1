#!/usr/bin/env python
"""bfloat16 autocast vs float32 (and channels-last) training and inference speed of the 8.5 M U-Net, measured in one run.

The network is bundles/unet's (train.yaml, 8.5 M parameter budget), copied with the same weights into each setting;
the settings use the code the bundles run with ``--amp true`` and ``--channels_last true``: the forward pass under
``inferers.AutocastInferer`` (bfloat16 autocast on CPU, float32 outputs to the loss) and ``engines.to_channels_last``.
Settings are timed round-robin (warm-up round first) so that other load on the machine hits all alike. Prints a
Markdown table (slices/s, time relative to float32), ratio lines, the bf16-vs-fp32 difference of the predicted
probabilities and the load average. Run from the repository root:

    .venv/bin/python scripts/benchmark_precision.py --batch_size 8 --size 144 --iterations 5
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monai.bundle import ConfigParser  # noqa: E402
from monai.inferers import SimpleInferer  # noqa: E402

from engines import to_channels_last
from inferers import AutocastInferer  # noqa: E402
from networks import count_parameters  # noqa: E402

SETTINGS = {  # name: (autocast dtype or None, channels-last)
    "fp32": (None, False),
    "bf16": (torch.bfloat16, False),
    "fp32 + channels-last": (None, True),
    "bf16 + channels-last": (torch.bfloat16, True),
}


def cpu_bf16() -> str:
    """What the CPU offers oneDNN for bfloat16 (native bf16 dot products or emulation)."""
    found = [name for name, test in (("AVX512-BF16", "_is_avx512_bf16_supported"), ("AMX-BF16", "_is_amx_tile_supported"))
             if getattr(torch.cpu, test, lambda: False)()]
    return ", ".join(found) + " present" if found else "no native bf16 instructions (emulated)"


def build() -> tuple[torch.nn.Module, torch.nn.Module]:
    parser = ConfigParser()
    parser.read_config(str(ROOT / "bundles/unet/configs/train.yaml"))
    return parser.get_parsed_content("network_def"), parser.get_parsed_content("loss")


def train_step(net, inferer, opt, loss_fn, batch, target) -> float:
    """Seconds for one training iteration (forward under the inferer, float32 loss, backward, Adam step)."""
    net.train()
    start = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss_fn(inferer(batch, net), target).backward()
    opt.step()
    return time.perf_counter() - start


@torch.no_grad()
def infer_step(net, inferer, batch) -> tuple[float, torch.Tensor]:
    net.eval()
    start = time.perf_counter()
    out = inferer(batch, net)
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch_size", type=int, default=8)
    ap.add_argument("--size", type=int, default=144)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch_size, 4, args.size, args.size)
    y = (torch.rand(args.batch_size, 1, args.size, args.size) > 0.9).float()
    net0, loss_fn = build()
    nets, inferers, optims = {}, {}, {}
    for name, (dtype, channels_last) in SETTINGS.items():
        net = to_channels_last(copy.deepcopy(net0), enabled=channels_last)
        nets[name] = net
        inferers[name] = SimpleInferer() if dtype is None else AutocastInferer(SimpleInferer(), "cpu", dtype)
        optims[name] = torch.optim.Adam(net.parameters(), lr=1e-4)
    # the same weights in every setting: compare the predictions before training changes them
    probs = {name: torch.sigmoid(infer_step(nets[name], inferers[name], x)[1]) for name in SETTINGS}
    load_before = os.getloadavg()
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in SETTINGS}
    for r in range(args.iterations + 1):  # round 0 is warm-up
        for name in SETTINGS:
            t_train = train_step(nets[name], inferers[name], optims[name], loss_fn, x, y)
            t_infer, _ = infer_step(nets[name], inferers[name], x)
            if r > 0:
                times[name][0].append(t_train)
                times[name][1].append(t_infer)
        print(f"round {r}/{args.iterations} done", flush=True)
    load_after = os.getloadavg()
    base = {k: statistics.median(v) for k, v in zip(("train", "infer"), times["fp32"])}
    print(f"\nU-Net of bundles/unet, {count_parameters(net0):,} parameters; batch {args.batch_size} x 4 x {args.size} x "
          f"{args.size}; {torch.get_num_threads()} threads; median of {args.iterations} round-robin iterations after "
          f"one warm-up round; CPU: {cpu_bf16()}\n")
    print("| setting | train slices/s | train time vs fp32 | infer slices/s | infer time vs fp32 |")
    print("|---|---:|---:|---:|---:|")
    for name in SETTINGS:
        t_train, t_infer = statistics.median(times[name][0]), statistics.median(times[name][1])
        print(f"| {name} | {args.batch_size / t_train:.1f} | {t_train / base['train']:.2f}x | "
              f"{args.batch_size / t_infer:.1f} | {t_infer / base['infer']:.2f}x |")
    print()
    for name in list(SETTINGS)[1:]:
        key = name.replace(" + ", "_").replace("-", "_")
        t_train, t_infer = statistics.median(times[name][0]), statistics.median(times[name][1])
        print(f"RATIO train_speed_{key}_vs_fp32 {base['train'] / t_train:.3f}")
        print(f"RATIO infer_speed_{key}_vs_fp32 {base['infer'] / t_infer:.3f}")
    for name in list(SETTINGS)[1:]:
        diff = (probs[name] - probs["fp32"]).abs()
        flips = ((probs[name] > 0.5) != (probs["fp32"] > 0.5)).float().mean()
        print(f"PREDICTION {name} vs fp32 (same weights): max |dp| {diff.max():.4f}, mean |dp| {diff.mean():.5f}, "
              f"thresholded voxels that differ {100 * flips:.3f} %")
    print(f"LOAD 1-min load average before {load_before[0]:.2f}, after {load_after[0]:.2f} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
