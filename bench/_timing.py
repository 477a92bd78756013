"""Shared by the benchmarks: run a command in its own process, time it, read its peak RSS."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak resident memory (GB) and stdout of a command (from /usr/bin/time)."""
    started = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, cwd=ROOT, env=env
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)[1])
    return seconds, peak_kb / 1024 / 1024, result.stdout
