"""Benchmark `retain features build` against a hand-written DuckDB query (the lower limit).

Generates (once; reused when present) a synthetic bank of 1,000,000 customers with at least
50,000,000 transactions, then, alternating in the same run so machine noise hits both alike:

- the pipeline: `retain features build --data BANK --as-of D --out FILE` (validation,
  quarantine check, every feature of docs/features.md, Parquet output), in its own process;
- the limit: one hand-written DuckDB SQL query computing only the core transaction
  aggregates (count, credit sum, debit sum, last timestamp per window; 4 windows) for the
  same customers and as-of date, written to Parquet.

Each is timed wall-clock with its peak resident memory (from /usr/bin/time). Also measured:
features of one customer from raw records (the real-time path).

Usage: .venv/bin/python bench/features.py [--customers 1000000] [--months 5] [--rounds 2]
       [--bank DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
from _timing import ROOT, timed  # noqa: E402  (bench/ is the script folder)

OUT = ROOT / "bench" / "out"
WINDOWS = (30, 90, 180, 365)

REFERENCE_SQL = """
COPY (
  SELECT customer_id,
         {aggregates}
  FROM read_parquet('{transactions}')
  WHERE ts < TIMESTAMP '{as_of}' AND ts >= TIMESTAMP '{as_of}' - INTERVAL 365 DAY
  GROUP BY customer_id
) TO '{out}' (FORMAT parquet)
"""


def reference_sql(bank: Path, as_of: date, out: Path) -> str:
    parts = []
    for w in WINDOWS:
        inside = f"ts >= TIMESTAMP '{as_of}' - INTERVAL {w} DAY"
        parts += [
            f"count(*) FILTER (WHERE {inside}) AS txn_count_{w}d",
            f"sum(amount) FILTER (WHERE {inside} AND direction = 'credit') AS credit_{w}d",
            f"sum(amount) FILTER (WHERE {inside} AND direction = 'debit') AS debit_{w}d",
            f"max(ts) FILTER (WHERE {inside}) AS last_ts_{w}d",
        ]
    return REFERENCE_SQL.format(
        aggregates=",\n         ".join(parts),
        transactions=bank / "transactions.parquet",
        as_of=as_of,
        out=out,
    )


def ensure_bank(customers: int, months: int) -> Path:
    bank = OUT / f"bank_{customers}_{months}m"
    if not (bank / "manifest.json").exists():
        print(f"generating {customers:,} customers × {months} months …", flush=True)
        seconds, peak, _ = timed(
            [
                sys.executable,
                "-m",
                "retain",
                "data",
                "synth",
                "--customers",
                str(customers),
                "--months",
                str(months),
                "--out",
                str(bank),
            ]
        )
        print(f"  generated in {seconds:.0f} s, peak {peak:.1f} GB", flush=True)
    return bank


def single_customer_ms(bank: Path, as_of: date, calls: int = 30) -> tuple[float, float]:
    """Features of one customer from raw records on the compiled real-time path:
    (milliseconds to compile once, milliseconds per customer after)."""
    code = f"""
import time, duckdb, pandas as pd
from datetime import date
from features.online import CustomerFeatures
from common.config import FeaturesConfig
bank = {str(bank)!r}
con = duckdb.connect()
ids = con.sql("select customer_id from read_parquet('" + bank + "/customers.parquet') "
              "using sample {calls} rows (reservoir, 7)").df().customer_id.tolist()
records = [
    {{name: con.sql("select * from read_parquet('" + bank + "/" + name + ".parquet') "
                   "where customer_id = '" + cid + "'").df()
     for name in ("customers", "holdings", "transactions", "interactions", "balances")}}
    for cid in ids
]
products = pd.read_parquet(bank + "/products.parquet")
as_of = date.fromisoformat({str(as_of)!r})
started = time.perf_counter()
computer = CustomerFeatures(products, FeaturesConfig())
computer.compute(records[0], as_of)
compile_ms = (time.perf_counter() - started) * 1000
started = time.perf_counter()
for one in records:
    computer.compute(one, as_of)
print(compile_ms, (time.perf_counter() - started) / len(records) * 1000)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"single-customer measurement failed:\n{result.stderr[-3000:]}")
    compile_ms, per_customer_ms = map(float, result.stdout.split())
    return compile_ms, per_customer_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bank", type=Path, help="reuse a bank generated earlier")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    bank = args.bank or ensure_bank(args.customers, args.months)
    extracted_at = datetime.fromisoformat(
        json.loads((bank / "manifest.json").read_text())["extracted_at"]
    )
    as_of = (extracted_at + timedelta(days=1)).date()
    transactions = pq.read_metadata(bank / "transactions.parquet").num_rows
    customers = pq.read_metadata(bank / "customers.parquet").num_rows
    print(f"bank: {customers:,} customers, {transactions:,} transactions; as of {as_of}")

    pipeline_runs, reference_runs = [], []
    for round_index in range(args.rounds):
        features_out = OUT / "features.parquet"
        pipeline_runs.append(
            timed(
                [
                    sys.executable,
                    "-m",
                    "retain",
                    "features",
                    "build",
                    "--data",
                    str(bank),
                    "--as-of",
                    str(as_of),
                    "--out",
                    str(features_out),
                ]
            )
        )
        sql = reference_sql(bank, as_of, OUT / "reference.parquet")
        reference_runs.append(timed([sys.executable, "-c", f"import duckdb; duckdb.sql({sql!r})"]))
        print(
            f"round {round_index + 1}: pipeline {pipeline_runs[-1][0]:.1f} s "
            f"({pipeline_runs[-1][1]:.2f} GB), reference {reference_runs[-1][0]:.1f} s "
            f"({reference_runs[-1][1]:.2f} GB)",
            flush=True,
        )
    rows = pq.read_metadata(OUT / "features.parquet")
    compile_ms, single_ms = single_customer_ms(bank, as_of)

    pipeline_s = statistics.median(run[0] for run in pipeline_runs)
    reference_s = statistics.median(run[0] for run in reference_runs)
    results = {
        "customers": customers,
        "transactions": transactions,
        "feature_rows": rows.num_rows,
        "feature_columns": rows.num_columns,
        "pipeline_seconds": round(pipeline_s, 2),
        "pipeline_peak_gb": round(max(run[1] for run in pipeline_runs), 2),
        "reference_seconds": round(reference_s, 2),
        "reference_peak_gb": round(max(run[1] for run in reference_runs), 2),
        "ratio": round(pipeline_s / reference_s, 2),
        "single_customer_compile_ms": round(compile_ms),
        "single_customer_ms": round(single_ms, 1),
    }
    (OUT / "features.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(
        f"goal: ratio ≤ 3 ({'met' if results['ratio'] <= 3 else 'NOT met'}), peak < 8 GB "
        f"({'met' if results['pipeline_peak_gb'] < 8 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
