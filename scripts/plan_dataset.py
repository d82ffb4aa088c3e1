"""Fingerprint a data set folder (any registered format; cached, outside the folder) and print or write its plan
(data/plan.py), to see what a bundle will do before training.

    python scripts/plan_dataset.py /data/Dataset005_Prostate                       # 2D plan for this CPU
    python scripts/plan_dataset.py /data/Dataset005_Prostate --spatial_dims 3 --gpu_memory_gb 11 --out plan.json
    python scripts/plan_dataset.py D --set patch_size='[128, 128]' --set batch_size=8   # overrides (JSON values)
    python scripts/plan_dataset.py Task01_BrainTumour --labels "{'background': 0, 'tumour': [1, 2, 3]}"  # grouped
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.errors import DatasetError  # noqa: E402
from data.plan import plan_dataset, write_plan  # noqa: E402


def _override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set needs key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset_dir", help="the data set folder")
    parser.add_argument("--data_format", default="auto", help="registered format name (default: detected)")
    parser.add_argument("--spatial_dims", type=int, choices=(2, 3), default=None, help="the network's (default 2)")
    parser.add_argument("--memory_budget_gb", type=float, default=None, help="activation memory budget (CPU: 2)")
    parser.add_argument("--gpu_memory_gb", type=float, default=None, help="plan for a GPU with this much memory")
    parser.add_argument("--cache_dir", default=None, help="fingerprint cache (default <repo>/cache/fingerprints)")
    parser.add_argument("--set", dest="overrides", type=_override, action="append", default=[],
                        metavar="KEY=JSON", help="override a plan entry (repeatable)")
    parser.add_argument("--labels", default=None, help="a label grouping, nnU-Net's dataset.json syntax "
                        "(docs/any_dataset.md), e.g. \"{'background': 0, 'tumour': [1, 2, 3]}\"")
    parser.add_argument("--out", default=None, help="write the plan JSON here instead of printing it")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _, _, plan = plan_dataset(
            args.dataset_dir, args.data_format, args.spatial_dims, dict(args.overrides), args.cache_dir,
            args.memory_budget_gb, args.gpu_memory_gb, labels=args.labels,
        )
    except (DatasetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.out:
        print(write_plan(plan, args.out))
    else:
        print(json.dumps(plan, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
