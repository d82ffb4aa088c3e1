"""Run the whole benchmark suite, one script after the other, each in its own process (so that memory and threads
of one do not affect the next): data, training, inference, memory. Full mode writes docs/benchmarks.md.

Examples:
    python scripts/benchmark_suite.py            # full mode, tens of minutes on a busy 2-core machine
    python scripts/benchmark_suite.py --quick    # smoke test of every script (tiny sizes, nothing written)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["benchmark_data.py", "benchmark_training.py", "benchmark_inference.py", "benchmark_memory.py"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="pass --quick to every script")
    ap.add_argument("--only", nargs="+", choices=SCRIPTS, default=SCRIPTS, help="scripts to run")
    args = ap.parse_args(argv)
    for script in args.only:
        t = time.perf_counter()
        cmd = [sys.executable, str(HERE / script), *(["--quick"] if args.quick else [])]
        print(f"=== {' '.join(cmd)}", flush=True)
        code = subprocess.run(cmd, cwd=HERE.parent).returncode
        print(f"=== {script}: exit {code} after {time.perf_counter() - t:.0f} s", flush=True)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
