"""Benchmark (2) training: slices/s of our U-Net vs MONAI's BasicUNet, at equal parameter count and at our widths,
in fp32, bf16 and the bundles' default precision, and achieved GFLOP/s against this machine's GEMM rate, all measured
in one run.

Ours is bundles/unet's network as train.yaml builds it (8.5 M parameters, batch norm, ReLU). The peers are
``monai.networks.nets.BasicUNet`` (2D, 4 -> 1 channels) with features ``(a, a, 2a, 4a, 8a, a)`` (MONAI's default
pattern) and ``a`` chosen so that its parameter count is the closest to ours (architecture and engineering), and
BasicUNet with our level widths ``(F0, F1, F2, F3, F4, F0)`` (the same widths: engineering, mostly). One training
step is forward, the bundle's Dice loss, backward and an Adam step on a random batch of ``--batch`` x 4 x 144 x 144;
bf16 runs the forward pass under ``torch.autocast("cpu", dtype=torch.bfloat16)``; ``default`` is what the bundles do
with ``amp: auto`` on this machine (:func:`engines.choose_precision`: bf16 autocast + channels-last where the CPU has
native bf16, else fp32). FLOPs per step are counted by ``torch.utils.flop_counter.FlopCounterMode`` (forward and
backward convolutions and matrix products); the GEMM rate is that of an ``n x n`` matrix product in the same dtype,
measured before and after the steps (the larger counts: the rate varies with the machine's other load). Steps of all
configurations are interleaved; the median step counts.

Examples:
    python scripts/benchmark_training.py            # full, writes docs/benchmarks.md
    python scripts/benchmark_training.py --quick    # smoke test: tiny networks and images, nothing written
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, gemm_gflops, header, load, write_section  # noqa: E402

sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from monai.bundle import ConfigParser  # noqa: E402
from monai.losses import DiceLoss  # noqa: E402
from monai.networks.nets import BasicUNet  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from networks import count_parameters  # noqa: E402


def ours(target_params: int, features: int) -> torch.nn.Module:
    parser = ConfigParser()
    parser.read_config(str(ROOT / "bundles/unet/configs/train.yaml"))
    parser.update({"target_params": target_params, "features": features})
    return parser.get_parsed_content("network_def")


def basic_unet(a: int) -> torch.nn.Module:
    return BasicUNet(spatial_dims=2, in_channels=4, out_channels=1, features=(a, a, 2 * a, 4 * a, 8 * a, a))


def basic_unet_at_widths(widths: list[int]) -> torch.nn.Module:
    """BasicUNet with our five level widths (its sixth, the last decoder level's, is our first)."""
    return BasicUNet(spatial_dims=2, in_channels=4, out_channels=1, features=(*widths[:5], widths[0]))


def basic_unet_like(params: int) -> tuple[torch.nn.Module, int]:
    """BasicUNet whose parameter count is the closest to ``params``, and its base width ``a``."""
    best = min(range(2, 128), key=lambda a: abs(count_parameters(basic_unet(a).to("meta")) - params))
    return basic_unet(best), best


def default_precision():
    """The bundles' ``amp: auto`` choice on this CPU (engines.choose_precision)."""
    from engines.auto_precision import choose_precision

    return choose_precision("cpu")


def autocast(dtype: str):
    bf16 = dtype == "bf16" or (dtype == "default" and default_precision().amp)
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def step(net, opt, loss_fn, x, y, dtype: str) -> None:
    opt.zero_grad(set_to_none=True)
    with autocast(dtype):
        out = net(x)
    loss_fn(out.float(), y).backward()
    opt.step()


def flops_per_step(net, opt, loss_fn, x, y, dtype: str) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        step(net, opt, loss_fn, x, y, dtype)
    return counter.get_total_flops()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, 1 step, nothing written")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=144)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per configuration (after 1 warm-up)")
    ap.add_argument("--gemm", type=int, default=2048, help="GEMM size n for the peak rate")
    ap.add_argument("--target_params", type=int, default=8_500_000)
    ap.add_argument("--no_write", action="store_true")
    args = ap.parse_args(argv)
    features = 32
    if args.quick:
        args.batch, args.size, args.steps, args.gemm, args.target_params, args.no_write = 2, 32, 1, 256, 0, True
        features = 4

    torch.manual_seed(0)
    x = torch.randn(args.batch, 4, args.size, args.size)
    y = (torch.rand(args.batch, 1, args.size, args.size) > 0.9).float()
    net_ours = ours(args.target_params, features)
    params = count_parameters(net_ours)
    net_basic, a = basic_unet_like(params) if not args.quick else (basic_unet(4), 4)
    widths = list(net_ours.features)
    same_widths = f"MONAI BasicUNet (our widths {'-'.join(map(str, widths))})"
    nets = {"ours (modular U-Net)": net_ours, f"MONAI BasicUNet (a={a})": net_basic,
            same_widths: basic_unet_at_widths(widths)}  # fmt: skip
    loss_fn = DiceLoss(sigmoid=True, batch=True)
    choice = default_precision()
    if choice.channels_last:  # the default's layout: its own copies of the networks, NHWC weights and inputs
        from engines.precision import to_channels_last

        for name in list(nets):
            nets[f"{name} [default]"] = to_channels_last(copy.deepcopy(nets[name]), True)
    opts = {name: torch.optim.Adam(net.parameters(), lr=1e-4) for name, net in nets.items()}
    dtypes = ("fp32", "bf16", "default")
    configs = [(name, dtype) for name in nets if not name.endswith("[default]") for dtype in dtypes]

    def net_of(name: str, dtype: str) -> str:
        return f"{name} [default]" if dtype == "default" and f"{name} [default]" in nets else name

    x_default = x.contiguous(memory_format=torch.channels_last) if choice.channels_last else x
    loads = [load()]
    gemm = {"fp32": gemm_gflops(args.gemm, torch.float32), "bf16": gemm_gflops(args.gemm, torch.bfloat16)}
    flops = {}
    for name, dtype in configs:
        net = net_of(name, dtype)
        nets[net].train()
        xi = x_default if dtype == "default" else x
        flops[(name, dtype)] = flops_per_step(nets[net], opts[net], loss_fn, xi, y, dtype)  # also the warm-up
    times = {c: [] for c in configs}
    for _ in range(args.steps):
        for name, dtype in configs:
            net, xi = net_of(name, dtype), (x_default if dtype == "default" else x)
            t = time.perf_counter()
            step(nets[net], opts[net], loss_fn, xi, y, dtype)
            times[(name, dtype)].append(time.perf_counter() - t)
        loads.append(load())
    gemm_after = {"fp32": gemm_gflops(args.gemm, torch.float32), "bf16": gemm_gflops(args.gemm, torch.bfloat16)}

    ref = ("ours (modular U-Net)", "fp32")
    rate = {c: args.batch / statistics.median(t) for c, t in times.items()}
    lines = [
        f"Batch {args.batch} x 4 x {args.size} x {args.size}, Dice loss, Adam; median of {args.steps} interleaved steps "
        f"after one warm-up step. GEMM {args.gemm}^2: fp32 {gemm['fp32']:.0f} / {gemm_after['fp32']:.0f} GFLOP/s, "
        f"bf16 {gemm['bf16']:.0f} / {gemm_after['bf16']:.0f} GFLOP/s (before / after the steps; the share below is of "
        "the larger). `default`: the bundles' `amp: auto` here: " + choice.describe() + ".",
        f"Load: {loads[0]} (start); {loads[-1]} (end).",
        "",
        "| network | parameters | dtype | train slices/s | vs ours fp32 | vs BasicUNet same dtype | GFLOP/step | GFLOP/s | % of GEMM rate |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    basic_name = f"MONAI BasicUNet (a={a})"
    for name, dtype in configs:
        p = count_parameters(nets[name])
        r = rate[(name, dtype)]
        f = flops[(name, dtype)] / 1e9
        achieved = f * r / args.batch
        used = "bf16" if dtype == "bf16" or (dtype == "default" and choice.amp) else "fp32"
        peak = max(gemm[used], gemm_after[used])
        lines.append(
            f"| {name} | {p:,} | {dtype} | {r:.2f} | {r / rate[ref]:.2f}x | {r / rate[(basic_name, dtype)]:.2f}x | "
            f"{f:.1f} | {achieved:.0f} | {100 * achieved / peak:.0f} % |"
        )
    # where the time of the slowest stage (our fp32 training step) goes: operators by self CPU time
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step(net_ours, opts["ours (modular U-Net)"], loss_fn, x, y, "fp32")
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    lines += [
        "",
        "Profile of one fp32 training step of ours (torch.profiler, operators by self CPU time):",
        "",
        "| operator | share of step | calls |",
        "|---|---:|---:|",
    ]
    for e in events[:8]:
        lines.append(f"| `{e.key}` | {100 * e.self_cpu_time_total / total:.1f} % | {e.count} |")
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_section("training", header("Training: slices/s vs MONAI BasicUNet, fp32, bf16 and the default") + "\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
