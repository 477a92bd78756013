"""Batch campaign scoring at scale: `score_campaign` end to end against LightGBM's raw
`predict` on the same feature matrix (the limit), in one run.

Generates (once, into bench/out/batch/) a synthetic bank of `--customers` customers, uses
the champion models of bench/out/serving/ (bench/_champions.py trains them once on the
demo-size bank: the same feature definitions), then measures:

- `score_campaign` (features, online store publish, decisions with reasons for customers
  who get an action, holdout, capacity schedule, lists, outbox): customers per second;
- raw `Booster.predict` of the churn model and every cross-sell model on the feature matrix
  of the same customers (the matrix built beforehand, not timed): customers per second;
- the cost of reasons: the churn model's SHAP values and phrases for the customers with an
  action (what batch computes them for), per such customer.

Usage: .venv/bin/python bench/batch.py [--customers 1000000] [--months 6]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import date

import numpy as np
from _champions import OUT as MODELS
from _champions import prepare
from _timing import ROOT

sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out" / "batch"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=6)
    args = parser.parse_args()
    prepare()  # champions in the benchmark registry
    bank_dir = OUT / f"bank-{args.customers}x{args.months}"
    os.environ["RETAIN_OUTPUT_DIR"] = str(OUT / "outputs")
    os.environ["RETAIN_DATA_DIR"] = str(bank_dir)

    from common.config import load_config
    from features import engine, pipeline
    from features.validation import load_bank
    from serving.batch import score_campaign
    from serving.decision import churn_reasons, decide
    from serving.models import load_champions
    from serving.rows import FeatureRows
    from simulation.bank import generate_bank

    if not (bank_dir / "manifest.json").exists():
        started = time.perf_counter()
        generate_bank(
            bank_dir, n_customers=args.customers, months=args.months, seed=5, start=date(2024, 1, 1)
        )
        print(f"generated {args.customers:,} customers in {time.perf_counter() - started:.0f} s")
    config = load_config()
    bank = load_bank(engine.connect(config.features), bank_dir, config.data)
    champions = load_champions(config)
    as_of = bank.extracted_at.date().replace(day=1)
    shutil.rmtree(OUT / "outputs", ignore_errors=True)

    started = time.perf_counter()
    result = score_campaign(bank, champions, config, as_of, OUT / "campaign")
    end_to_end = time.perf_counter() - started
    customers = result.customers

    features = pipeline.feature_frame(bank, [as_of], config.features)
    rows = FeatureRows(frame=features)
    matrices = [(champions.churn.booster, rows.matrix(champions.churn))]
    for model in champions.xsell.per_product.values():
        matrices.append((model.booster, rows.matrix(model)))
    started = time.perf_counter()
    for booster, matrix in matrices:
        booster.predict(matrix)
    raw_predict = time.perf_counter() - started

    now = datetime_of(as_of)
    started = time.perf_counter()
    decisions = decide(features, champions, config.serving, now, reasons_for="actions")
    decisions_seconds = time.perf_counter() - started
    acting = np.flatnonzero(decisions.frame["action"].to_numpy() != "none")
    churn_matrix = matrices[0][1]
    started = time.perf_counter()
    churn_reasons(rows.take(acting), churn_matrix[acting], champions, config.serving, now)
    reasons_seconds = time.perf_counter() - started

    figures = {
        "customers": customers,
        "churn_trees": champions.churn.booster.num_trees(),
        "xsell_models": len(champions.xsell.per_product),
        "end_to_end_seconds": round(end_to_end, 1),
        "stage_seconds": result.summary["seconds"],
        "end_to_end_customers_per_second": round(customers / end_to_end),
        "raw_predict_seconds": round(raw_predict, 2),
        "raw_predict_customers_per_second": round(customers / raw_predict),
        "ratio_to_limit": round(raw_predict / end_to_end, 3),
        "customers_with_an_action": len(acting),
        "decisions_seconds": round(decisions_seconds, 1),
        "churn_reasons_seconds": round(reasons_seconds, 2),
        "churn_reasons_ms_per_acting_customer": round(
            reasons_seconds / max(len(acting), 1) * 1e3, 3
        ),
        "models": str(MODELS),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "batch.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


def datetime_of(day: date):
    from datetime import datetime
    from datetime import time as clock

    return datetime.combine(day, clock.min)


if __name__ == "__main__":
    main()
