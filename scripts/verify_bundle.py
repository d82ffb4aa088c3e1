"""Verify a received bundle archive (or unpacked folder) before running it (checks: sharing/verify.py).

Usage::

    python scripts/verify_bundle.py unet_0.1.0.zip --extract-to received/ --trusted-keys ~/.bundle_keys
    python scripts/verify_bundle.py received/unet                  # an unpacked folder (verify it fresh: files
                                                                   # written later are "added")
    python scripts/verify_bundle.py received/unet --trust          # accept the listed entries after reading them

To run inference on a received bundle use scripts/run_received_bundle.py, which runs this verification first.

Exit status: 0 all checks passed; 1 a file is missing/changed/added, the archive is unsafe, the signature is
missing or not by a trusted key (with --trusted-keys), a checkpoint holds more than tensors, the metadata fails the
schema, or the network check fails; 2 entries are refused (code outside the allowlist, code packages that differ
from this repository's copy, a logging.conf that writes files) and --trust was not given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sharing.verify import VerifyResult, verify_bundle  # noqa: E402
from engines.errors import install_excepthook  # noqa: E402

install_excepthook()  # our errors end in their message; the full traceback goes to a file (engines/errors.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="bundle .zip or unpacked bundle folder")
    parser.add_argument("--extract-to", help="where to unpack a .zip (default: a new temporary folder)")
    parser.add_argument("--trusted-keys", metavar="DIR", help="folder of trusted Ed25519 public keys (*.pub): the "
                        "bundle must be signed by one of them")  # fmt: skip
    parser.add_argument("--trust", action="store_true", help="accept the refused entries (listed) and go on: only "
                        "after reading them, for a sender you trust")  # fmt: skip


def report(result: VerifyResult, trust: bool) -> int:
    """Print the result (OK lines to stdout, failures and refusals to stderr); returns the exit status."""
    print(f"bundle folder: {result.bundle_dir}")
    for line in result.passed:
        print(f"OK   {line}")
    for line in result.errors:
        print(f"FAIL {line}", file=sys.stderr)
    if result.refused:
        verdict = "TRUSTED by --trust" if trust else "REFUSED"
        print(f"{verdict}: {len(result.refused)} entries outside the allowlist or differing from this repository:",
              file=sys.stderr)  # fmt: skip
        for rel, entry in result.refused:
            problems = "; ".join(entry.problems)
            text = f" {entry.text!r}:" if entry.text else ""
            print(f"  {rel}: {entry.where} ({entry.kind}):{text} {problems}", file=sys.stderr)
        if not trust:
            print("Read them; rerun with --trust only if you trust the sender.", file=sys.stderr)
    code = result.exit_code
    print("PASSED" if code == 0 else f"FAILED (exit {code})", file=sys.stderr if code else sys.stdout)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--no-net-check", action="store_true", help="skip verify_net_in_out and the weight loading")
    args = parser.parse_args(argv)
    result = verify_bundle(args.bundle, trust=args.trust, extract_to=args.extract_to,
                           net_check=not args.no_net_check, trusted_keys=args.trusted_keys)  # fmt: skip
    return report(result, args.trust)


if __name__ == "__main__":
    sys.exit(main())
