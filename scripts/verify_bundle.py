"""Verify a received bundle archive (or unpacked folder) before running it (checks: sharing/verify.py).

Usage::

    python scripts/verify_bundle.py unet_0.1.0.zip --extract-to received/     # unpack, check, refuse if untrusted code
    python scripts/verify_bundle.py received/unet                              # an unpacked folder (verify it fresh:
                                                                               # files written later are "added")
    python scripts/verify_bundle.py received/unet --trust                      # run the network check anyway

Exit status: 0 all checks passed; 1 a file is missing/changed/added, the metadata fails the schema, or the network
check fails; 2 the configs hold code outside the allowlist (listed) and --trust was not given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sharing.audit import ALLOWED_MODULES  # noqa: E402
from sharing.verify import verify_bundle  # noqa: E402
from engines.errors import install_excepthook  # noqa: E402

install_excepthook()  # our errors end in their message; the full traceback goes to a file (engines/errors.py)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", help="bundle .zip or unpacked bundle folder")
    parser.add_argument("--extract-to", help="where to unpack a .zip (default: a new temporary folder)")
    parser.add_argument("--trust", action="store_true", help="run the network check although code outside the "
                        "allowlist is listed (you have read it and trust it)")  # fmt: skip
    parser.add_argument("--no-net-check", action="store_true", help="skip verify_net_in_out and the weight loading")
    args = parser.parse_args(argv)

    result = verify_bundle(args.bundle, trust=args.trust, extract_to=args.extract_to, net_check=not args.no_net_check)
    print(f"bundle folder: {result.bundle_dir}")
    for line in result.passed:
        print(f"OK   {line}")
    for line in result.errors:
        print(f"FAIL {line}", file=sys.stderr)
    if result.refused:
        verdict = "TRUSTED by --trust" if args.trust else "REFUSED"
        print(f"{verdict}: {len(result.refused)} config entries outside the allowlist ({', '.join(ALLOWED_MODULES)}):",
              file=sys.stderr)  # fmt: skip
        for rel, entry in result.refused:
            problems = "; ".join(entry.problems)
            print(f"  {rel}: {entry.where} ({entry.kind}): {entry.text!r}: {problems}", file=sys.stderr)
        if not args.trust:
            print("Read them; rerun with --trust only if you trust the sender.", file=sys.stderr)
    code = result.exit_code
    print("PASSED" if code == 0 else f"FAILED (exit {code})", file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
