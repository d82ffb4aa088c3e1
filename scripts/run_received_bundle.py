"""Run a received bundle's workflow (inference by default) only after verifying it (sharing/verify.py).

Usage::

    python scripts/run_received_bundle.py unet_0.1.0.zip --extract-to received/ --trusted-keys ~/.bundle_keys \\
        -- --dataset_dir /path/to/Task01_BrainTumour
    python scripts/run_received_bundle.py received/unet --config configs/evaluate.yaml -- --dataset_dir /data

Everything after ``--`` goes to ``python -m monai.bundle run``. The verification is the one of
scripts/verify_bundle.py (network check included); nothing runs unless it passes (or --trust accepted the listed
entries). When the bundle's code packages are this repository's own, MONAI runs with this repository's copy
imported and the bundle folder kept off sys.path (python -P), so no code from the bundle is imported even if its
folder changes after the check. Exit status: the verification's (1, 2) when it does not pass, otherwise MONAI's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from verify_bundle import add_arguments, report  # noqa: E402

from sharing.verify import isolated_command, verify_bundle  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--config", default="configs/inference.yaml", help="workflow config (default: %(default)s)")
    args = parser.parse_args(own)
    if Path(args.config).is_absolute() or ".." in Path(args.config).parts:
        parser.error(f"--config {args.config}: give a path inside the bundle folder, e.g. configs/inference.yaml")
    result = verify_bundle(args.bundle, trust=args.trust, extract_to=args.extract_to, trusted_keys=args.trusted_keys)
    code = report(result, args.trust)
    if code != 0:
        print("NOT RUN: the bundle did not pass verification.", file=sys.stderr)
        return code
    cmd, env = isolated_command(
        ["-m", "monai.bundle", "run", "--config_file", args.config, *extra], result.bundle_dir, result.own_code
    )
    print(f"running in {result.bundle_dir}: {' '.join(cmd[1:])}", flush=True)
    return subprocess.run(cmd, cwd=result.bundle_dir, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
