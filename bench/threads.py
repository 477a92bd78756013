"""Two training processes sharing the machine: LightGBM threads per process.

In the same run: one LightGBM fit alone (OpenMP default, every core: the reference), then
two processes at once with `--threads-each` threads each (default: the machine's cores, as
the code did before issue 14's fix), then two at once with cores ÷ 2 threads each (what
`make test` gives its workers). OpenMP threads busy-wait between parallel regions, so more
threads than cores costs far more than the share of a core each gets.

Usage: .venv/bin/python bench/threads.py [--rows 60000] [--rounds 300]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

# Each process prepares its data, waits for the common start time, then prints the
# seconds its training took: the fits overlap from their first round.
FIT = """
import sys, time
import lightgbm as lgb
import numpy as np
rows, rounds, threads = (int(value) for value in sys.argv[1:4])
start_at = float(sys.argv[4])
rng = np.random.default_rng(0)
x = rng.normal(size=(rows, 100))
y = (x[:, 0] + rng.normal(size=rows) > 1.5).astype(float)
params = {"objective": "binary", "num_leaves": 7, "min_child_samples": 100, "verbosity": -1}
if threads:
    params["num_threads"] = threads
data = lgb.Dataset(x, y, params={"verbosity": -1}).construct()
time.sleep(max(start_at - time.time(), 0.0))
started = time.perf_counter()
lgb.train(params, data, rounds)
print(time.perf_counter() - started)
"""
SETUP_SECONDS = 15.0  # imports and data, before the common start


def run_together(count: int, rows: int, rounds: int, threads: int) -> float:
    """Seconds until the last of `count` fits, started together with `threads` threads
    each (0 = OpenMP's default), finished training."""
    start_at = time.time() + SETUP_SECONDS
    command = [sys.executable, "-c", FIT, str(rows), str(rounds), str(threads), str(start_at)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(count)]
    seconds = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode:
            raise SystemExit("a fit failed")
        seconds.append(float(out.strip().splitlines()[-1]))
    return max(seconds)


def main() -> None:
    cores = len(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--threads-each", type=int, default=cores)
    args = parser.parse_args()
    alone = run_together(1, args.rows, args.rounds, 0)
    print(f"{cores} cores; one fit alone (OpenMP default): {alone:.1f} s of training (reference)")
    for threads in (args.threads_each, max(cores // 2, 1)):
        seconds = run_together(2, args.rows, args.rounds, threads)
        print(
            f"two fits at once, {threads} thread(s) each: {seconds:.1f} s until both finished "
            f"= {seconds / alone:.1f}x the reference (2.0x = a fair share)"
        )


if __name__ == "__main__":
    main()
