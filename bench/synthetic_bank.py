"""How hard the synthetic bank is to predict, from its `_truth/` and its tables.

For each bank: the realised annual churn (every holding closed) and leave rate (closed or
gone dormant); the share of the 90-day churners already leaving (the truth's `leaving`) at
the as-of date; the ROC AUC of that flag alone against realised 90-day closure; and the
oracle's (`p_churn_90d`) ROC AUC and PR AUC on all customers and on those not leaving, and
the same for `p_leave_90d` against closing or going dormant. Figures are given at the
as-of date a training run tests on (the latest month start whose 90 days the extract
covers) and pooled over every month with an observed horizon.

Usage:
    .venv/bin/python bench/synthetic_bank.py                      # seeds 42 and 7, both sizes
    .venv/bin/python bench/synthetic_bank.py --customers 4000 --months 24 --seed 7 [--plain]
    .venv/bin/python bench/synthetic_bank.py --bank DIR           # a bank generated earlier
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import ROOT  # noqa: E402  (bench/ is the script folder)

sys.path.insert(0, str(ROOT))

from common.names import TRUTH_CHURN, TRUTH_DEPARTURES  # noqa: E402
from features.schema import MANIFEST_FILE  # noqa: E402

HORIZON = pd.Timedelta(days=90)
DEFAULT_RUNS = ((4000, 24, 42), (4000, 24, 7), (20000, 30, 42), (20000, 30, 7))


@dataclass(frozen=True)
class Hardness:
    """What one set of truth rows shows; AUCs are NaN where a class is missing."""

    rows: int
    churn_rate_90d: float
    churners_leaving_share: float
    leaving_roc_auc: float
    oracle_roc_auc: float
    oracle_pr_auc: float
    not_leaving_oracle_roc_auc: float
    not_leaving_oracle_pr_auc: float
    mean_p_churn: float
    leave_rate_90d: float
    leave_oracle_roc_auc: float
    mean_p_leave: float


def realised_outcomes(bank: Path) -> pd.DataFrame:
    """The truth's rows with an observed horizon, and whether each closed everything within
    90 days, and whether each is gone (closed or dormant) by the end of them."""
    extracted = pd.Timestamp(json.loads((bank / MANIFEST_FILE).read_text())["extracted_at"])
    truth = pd.read_parquet(bank / TRUTH_CHURN)
    truth["month_start"] = pd.to_datetime(truth["month_start"])
    truth = truth[truth["month_start"] + HORIZON <= extracted].copy()
    departures = pd.read_parquet(bank / TRUTH_DEPARTURES).set_index("customer_id")
    closed_at = truth["customer_id"].map(departures["closed_at"])
    gone_at = closed_at.combine(truth["customer_id"].map(departures["dormant_at"]), _earliest)
    end = truth["month_start"] + HORIZON
    truth["closed"] = (closed_at >= truth["month_start"]) & (closed_at < end)
    # Dormant before the month's start counts as gone (p_leave_90d is 1 for them).
    truth["left"] = gone_at < end
    return truth


def _earliest(a, b):
    if pd.isna(a):
        return b
    if pd.isna(b):
        return a
    return min(a, b)


def hardness(rows: pd.DataFrame) -> Hardness:
    from sklearn.metrics import average_precision_score, roc_auc_score

    def auc(metric, y, score) -> float:
        return float(metric(y, score)) if 0 < y.sum() < len(y) else float("nan")

    closed, left, leaving = rows["closed"], rows["left"], rows["leaving"]
    p, p_leave = rows["p_churn_90d"], rows["p_leave_90d"]
    not_leaving = ~leaving
    return Hardness(
        rows=len(rows),
        churn_rate_90d=float(closed.mean()),
        churners_leaving_share=float(leaving[closed].mean()),
        leaving_roc_auc=auc(roc_auc_score, closed, leaving.astype(float)),
        oracle_roc_auc=auc(roc_auc_score, closed, p),
        oracle_pr_auc=auc(average_precision_score, closed, p),
        not_leaving_oracle_roc_auc=auc(roc_auc_score, closed[not_leaving], p[not_leaving]),
        not_leaving_oracle_pr_auc=auc(average_precision_score, closed[not_leaving], p[not_leaving]),
        mean_p_churn=float(p.mean()),
        leave_rate_90d=float(left.mean()),
        leave_oracle_roc_auc=auc(roc_auc_score, left, p_leave),
        mean_p_leave=float(p_leave.mean()),
    )


def measure(bank: Path) -> dict[str, Hardness]:
    """At the test as-of date (the latest observed month start) and pooled over months."""
    rows = realised_outcomes(bank)
    latest = rows["month_start"].max()
    return {
        f"as of {latest:%Y-%m-%d}": hardness(rows[rows["month_start"] == latest]),
        "pooled": hardness(rows),
    }


def generate(folder: Path, customers: int, months: int, seed: int, plain: bool):
    from common.config import SynthMechanisms
    from simulation.bank import generate_bank

    mechanisms = SynthMechanisms.plain() if plain else SynthMechanisms()
    return generate_bank(
        folder,
        n_customers=customers,
        months=months,
        seed=seed,
        start=date(2023, 1, 1),
        mechanisms=mechanisms,
    )


def report(title: str, figures: dict[str, Hardness], summary=None) -> None:
    print(f"\n## {title}")
    if summary is not None:
        print(
            f"annual churn {summary.annual_churn_rate:.1%}, annual leave rate "
            f"{summary.annual_leave_rate:.1%}, generated in {summary.seconds:.1f} s"
        )
    for name, h in figures.items():
        print(
            f"{name}: rows {h.rows:,}, 90-day churn {h.churn_rate_90d:.2%} "
            f"(mean p_churn {h.mean_p_churn:.2%}); churners already leaving "
            f"{h.churners_leaving_share:.0%}; leaving flag ROC AUC {h.leaving_roc_auc:.3f}; "
            f"oracle ROC AUC {h.oracle_roc_auc:.3f}, PR AUC {h.oracle_pr_auc:.3f}; "
            f"not leaving: oracle ROC AUC {h.not_leaving_oracle_roc_auc:.3f}, PR AUC "
            f"{h.not_leaving_oracle_pr_auc:.3f}; 90-day leave {h.leave_rate_90d:.2%} "
            f"(mean p_leave {h.mean_p_leave:.2%}), p_leave ROC AUC {h.leave_oracle_roc_auc:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=Path, help="measure this bank instead of generating")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--plain", action="store_true", help="every mechanism off")
    args = parser.parse_args()
    if args.bank:
        report(str(args.bank), measure(args.bank))
        return
    runs = [(args.customers, args.months, args.seed)] if args.customers else DEFAULT_RUNS
    for customers, months, seed in runs:
        with tempfile.TemporaryDirectory() as folder:
            summary = generate(Path(folder), customers, months, seed, args.plain)
            title = f"{customers:,} customers x {months} months, seed {seed}"
            report(title + (" (plain)" if args.plain else ""), measure(Path(folder)), summary)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
