"""Package a bundle as a self-contained archive to share (layout and checks: sharing/package.py).

Usage (from anywhere; `--set` takes the overrides that were used for training, values parsed as YAML)::

    python scripts/package_bundle.py bundles/unet --out dist
    python scripts/package_bundle.py bundles/nas_unet --out dist --weights bundles/nas_unet/models/model.pt
    python scripts/package_bundle.py bundles/liver_fcn8s --base bundles/liver_improved_skip_unet --out dist
    python scripts/package_bundle.py bundles/unet --out dist --set target_params=0 --set features=16

Prints the archive path; exit status 1 with the file named when something is missing or the weights do not fit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sharing.package import package_bundle  # noqa: E402
from engines.errors import install_excepthook  # noqa: E402

install_excepthook()  # our errors end in their message; the full traceback goes to a file (engines/errors.py)


def parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {item!r}: expected key=value")
        out[key] = yaml.safe_load(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", help="bundle folder, e.g. bundles/unet")
    parser.add_argument("--out", default="dist", help="folder for the archive (default: %(default)s)")
    parser.add_argument("--weights", help="best weights (default: <bundle>/models/model.pt)")
    parser.add_argument("--base", help="bundle an override bundle overrides (default for variant.yaml: bundles/unet)")
    parser.add_argument("--name", help="archive folder name (default: the bundle folder's name)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="top-level config override")
    args = parser.parse_args(argv)
    try:
        archive = package_bundle(
            args.bundle, args.out, weights=args.weights, overrides=parse_set(args.set), base=args.base, name=args.name
        )
    except (FileNotFoundError, ValueError) as e:
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    print(archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
