"""Time the synthetic bank's generation, with every mechanism and without (the reference).

Both runs are `retain data synth` in their own process, one after the other in the same
run, so a busy machine slows both alike; the load average is printed with them.

Usage: .venv/bin/python bench/synth_timing.py [--customers 100000] [--months 24]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from _timing import ROOT, timed  # noqa: E402  (bench/ is the script folder)

BUDGET_SECONDS = 120.0  # issue 14: 100,000 customers x 24 months in under 2 minutes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    retain = str(ROOT / ".venv" / "bin" / "retain")
    print(
        f"{args.customers:,} customers x {args.months} months, seed {args.seed}, "
        f"{os.cpu_count()} cores"
    )
    results = {}
    for name, extra in (("every mechanism (default)", []), ("reference: --plain", ["--plain"])):
        with tempfile.TemporaryDirectory() as out:
            load_before = os.getloadavg()[0]
            seconds, peak_gb, stdout = timed(
                [
                    retain,
                    "data",
                    "synth",
                    "--customers",
                    str(args.customers),
                    "--months",
                    str(args.months),
                    "--seed",
                    str(args.seed),
                    "--out",
                    out,
                    *extra,
                ]
            )
        summary = next(line for line in stdout.splitlines() if "realised annual churn" in line)
        results[name] = seconds
        print(
            f"{name}: {seconds:.1f} s wall, peak {peak_gb:.2f} GB, load average "
            f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after; {summary.strip()}"
        )
    default, reference = results.values()
    print(
        f"mechanisms cost x{default / reference:.2f}; budget {BUDGET_SECONDS:.0f} s: "
        f"{'met' if default < BUDGET_SECONDS else 'MISSED'}"
    )
    sys.exit(0 if default < BUDGET_SECONDS else 1)


if __name__ == "__main__":
    main()
