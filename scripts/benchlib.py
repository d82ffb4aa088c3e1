"""Helpers shared by the benchmark scripts (scripts/benchmark_*.py): machine load, timing, GEMM rate, peak memory,
and writing a section of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def load() -> str:
    """``uptime``-style load averages (1, 5, 15 min) of this machine, with the core count."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def machine() -> str:
    """CPU model, core count and torch version."""
    model = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB: ``VmHWM`` of /proc/self/status on Linux.

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries that across ``execve``, so a process started by
    ``subprocess`` from a large parent reports at least the parent's peak. ``getrusage`` elsewhere (KiB on Linux,
    bytes on macOS; the latter is not corrected here).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls, seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def gemm_gflops(n: int = 1024, dtype: torch.dtype = torch.float32, repeats: int = 5) -> float:
    """Achieved GFLOP/s of an ``n x n`` matrix product (2 n^3 flops) in ``dtype`` on this CPU, median of ``repeats``."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    seconds = median_time(lambda: torch.mm(a, b), repeats)
    return 2.0 * n**3 / seconds / 1e9


def command_line() -> str:
    """The command that ran this script, as a user would type it from the repository root."""
    script = os.path.relpath(sys.argv[0], ROOT)
    return " ".join([".venv/bin/python", script, *sys.argv[1:]])


def write_section(name: str, text: str, doc: Path = DOC) -> None:
    """Replace (or append) the section ``name`` of ``doc`` between ``<!-- name -->`` and ``<!-- /name -->``."""
    block = f"<!-- {name} -->\n{text.rstrip()}\n<!-- /{name} -->"
    old = doc.read_text() if doc.is_file() else "# Benchmarks\n"
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.S)
    new = pattern.sub(lambda _: block, old) if pattern.search(old) else old.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(new)
    print(f"wrote section {name!r} of {doc}")


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def header(title: str) -> str:
    """Section header: title, date, command, machine, commit."""
    return (
        f"## {title}\n\n"
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}, commit {git_commit()}.\n"
        f"Command: `{command_line()}`\n"
    )
