#!/usr/bin/env python
"""Training and inference speed of every seed-000 variant relative to `unet`, measured in one run.

Each network is built exactly as its bundle declares it (bundles/unet/configs/train.yaml plus the variant's
configs/variant.yaml, at the 8.5 M parameter budget) and trained on random 4 x 144 x 144 slices with the
bundle's loss and optimiser. Prints a Markdown table (parameters, base width, slices/s, ratio to unet; seed
000's reported slow-downs beside ours) that the README carries. Run from the repository root:

    .venv/bin/python scripts/benchmark_variants.py --batch_size 8 --iterations 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monai.bundle import ConfigParser  # noqa: E402

from networks import count_parameters  # noqa: E402

# seed 000 (Laird 2019), section 5: "Efficient U-Net trained 1.3 times slower ... NAS U-Net roughly 1.9 times
# slower while Attention U-Net does not incur any slow down"
PAPER_SLOWDOWN = {"unet": "1.0", "attention_unet": "1.0", "nas_unet": "1.9", "efficient_unet": "1.3"}


def bundles() -> list[str]:
    return ["unet", *sorted(p.parent.parent.name for p in (ROOT / "bundles").glob("*/configs/variant.yaml"))]


def build(bundle: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    files = [str(ROOT / "bundles/unet/configs/train.yaml")]
    if bundle != "unet":
        files.append(str(ROOT / f"bundles/{bundle}/configs/variant.yaml"))
    parser = ConfigParser()
    parser.read_config(files)
    return parser.get_parsed_content("network_def"), parser.get_parsed_content("loss")


def train_step(net, opt, loss_fn, batch: torch.Tensor, target: torch.Tensor) -> float:
    """Seconds for one training iteration (forward, loss, backward, Adam step)."""
    net.train()
    start = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss_fn(net(batch), target).backward()
    opt.step()
    return time.perf_counter() - start


@torch.no_grad()
def infer_step(net, batch: torch.Tensor) -> float:
    net.eval()
    start = time.perf_counter()
    net(batch)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch_size", type=int, default=8)
    ap.add_argument("--size", type=int, default=144)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--bundles", nargs="*", default=None)
    args = ap.parse_args()
    torch.manual_seed(0)
    x = torch.randn(args.batch_size, 4, args.size, args.size)
    y = (torch.rand(args.batch_size, 1, args.size, args.size) > 0.9).float()
    names = args.bundles or bundles()
    models = {name: build(name) for name in names}
    optims = {name: torch.optim.Adam(net.parameters(), lr=1e-4) for name, (net, _) in models.items()}
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in names}
    # round-robin so that warm-up, thermal state and other load hit every variant alike; round 0 is warm-up
    for r in range(args.iterations + 1):
        for name in names:
            net, loss_fn = models[name]
            t_train, t_infer = train_step(net, optims[name], loss_fn, x, y), infer_step(net, x)
            if r > 0:
                times[name][0].append(t_train)
                times[name][1].append(t_infer)
        print(f"round {r}/{args.iterations} done", flush=True)
    rows = []
    for name in names:
        net = models[name][0]
        t_train, t_infer = statistics.median(times[name][0]), statistics.median(times[name][1])
        rows.append((name, count_parameters(net), net.features, args.batch_size / t_train, args.batch_size / t_infer))
    base_train, base_infer = rows[0][3], rows[0][4]
    print(f"\n{torch.get_num_threads()} threads, batch {args.batch_size} x 4 x {args.size} x {args.size}, fp32, "
          f"median of {args.iterations} round-robin iterations after one warm-up round\n")
    print("| bundle | parameters | widths F_0..F_4 | train slices/s | train time vs unet | seed 000 | infer slices/s | infer time vs unet |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name, n, widths, train, infer in rows:
        print(f"| {name} | {n:,} | {widths} | {train:.1f} | {base_train / train:.2f}x | {PAPER_SLOWDOWN.get(name, '-')} | "
              f"{infer:.1f} | {base_infer / infer:.2f}x |")
    for name, *_, train, infer in rows:
        print(f"RATIO train_time_{name}_vs_unet {base_train / train:.3f}")


if __name__ == "__main__":
    main()
