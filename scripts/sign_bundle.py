"""Sign a packaged bundle with an Ed25519 private key (sharing/signing.py).

Usage::

    python scripts/package_bundle.py bundles/unet --out dist
    python scripts/sign_bundle.py dist/unet_0.1.0.zip --key ~/.bundle_keys/alice.key

Adds (or replaces) ``<name>/configs/signature.json`` in the archive: a signature of ``configs/metadata.json``, which
records the sha256 of every other file. Receivers check it with
``python scripts/verify_bundle.py unet_0.1.0.zip --trusted-keys DIR``. Exit status 1 with the file named when the
archive or key is missing or unfit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sharing.signing import sign_bundle  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", help="packaged bundle .zip (or unpacked folder)")
    parser.add_argument("--key", required=True, help="Ed25519 private key (scripts/make_signing_key.py)")
    args = parser.parse_args(argv)
    try:
        signature = sign_bundle(args.bundle, args.key)
    except (FileNotFoundError, ValueError, KeyError) as e:
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    print(f"signed: {signature}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
