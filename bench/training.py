"""Benchmark `retain train churn` against a bare `lightgbm.train` on the same matrix.

Generates (once) a synthetic bank big enough for ~1,000,000 training rows (default
190,000 customers × 24 months; six monthly training snapshots), then in the same run:

- the pipeline: `retain train churn --data BANK` in its own process (validation, feature
  assembly for eight snapshots, LightGBM with early stopping, calibration, two baselines,
  drift, plots, MLflow logging and registration), wall time and peak memory, first with an
  empty snapshot cache, then again (a retrain of the same extract, cache filled);
- the limit: in another process, the same training matrix is built first (not timed), then
  only `lightgbm.train` with the same parameters, early stopping and validation set is timed.

Usage: .venv/bin/python bench/training.py [--customers 190000] [--bank DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _timing import ROOT, timed  # noqa: E402  (bench/ is the script folder)

OUT = ROOT / "bench" / "out"

BARE_FIT = """
import json, sys, time
from pathlib import Path
import lightgbm as lgb
from features import engine
from features.definitions import LABEL_CHURN, feature_names
from features.validation import load_bank
from common.config import load_config
from training.binary import lightgbm_params, positive_weight
from training.churn import churn_rows
from training.dataset import build_training_frame, plan_snapshots
from training.model import ModelSchema

config = load_config()
bank = load_bank(engine.connect(config.features), Path(sys.argv[1]), config.data)
plan = plan_snapshots(bank.extracted_at, config.features, config.training)
frame = churn_rows(build_training_frame(bank, plan, config.features))
features = feature_names(config.features)
train, valid = frame[frame["split"] == "train"], frame[frame["split"] == "valid"]
schema = ModelSchema.from_training(train, features)
x_train, x_valid = schema.prepare(train), schema.prepare(valid)
y_train = train[LABEL_CHURN].to_numpy(float)
tc = config.training
params = lightgbm_params(tc, positive_weight(y_train, tc.positive_weight))
started = time.perf_counter()
train_set = lgb.Dataset(x_train, y_train)
valid_set = lgb.Dataset(x_valid, valid[LABEL_CHURN].to_numpy(float), reference=train_set)
booster = lgb.train(params, train_set, num_boost_round=tc.lightgbm.max_trees,
                    valid_sets=[valid_set],
                    callbacks=[lgb.early_stopping(tc.lightgbm.early_stopping_rounds,
                                                  verbose=False)])
print(json.dumps({"fit_seconds": time.perf_counter() - started, "rows": len(train),
                  "features": len(features), "trees": booster.best_iteration}))
"""


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=190_000)
    parser.add_argument("--bank", type=Path)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    bank = args.bank or OUT / f"bank_{args.customers}_24m"
    if not (bank / "manifest.json").exists():
        print(f"generating {args.customers:,} customers × 24 months …", flush=True)
        timed(
            [
                sys.executable,
                "-m",
                "retain",
                "data",
                "synth",
                "--customers",
                str(args.customers),
                "--months",
                "24",
                "--out",
                str(bank),
            ]
        )
    command = [sys.executable, "-m", "retain", "train", "churn", "--data", str(bank)]
    with tempfile.TemporaryDirectory() as store:
        env = {
            **os.environ,
            "RETAIN_TRAINING__TRACKING_URI": f"sqlite:///{store}/mlflow.db",
            "RETAIN_OUTPUT_DIR": f"{store}/outputs",  # an empty snapshot cache: a cold run
        }
        pipeline_s, pipeline_gb, printed = timed(command, env)
        stages = _stages(printed)
        print(f"pipeline: {pipeline_s:.1f} s, peak {pipeline_gb:.2f} GB; {stages}", flush=True)
        # Retraining the same extract (the snapshot cache filled by the first run).
        warm_s, warm_gb, printed = timed(command, env)
        warm_stages = _stages(printed)
        print(f"retrain: {warm_s:.1f} s, peak {warm_gb:.2f} GB; {warm_stages}", flush=True)
    _, bare_gb, out = timed([sys.executable, "-c", BARE_FIT, str(bank)])
    bare = json.loads(out.strip().splitlines()[-1])
    results = {
        "training_rows": bare["rows"],
        "features": bare["features"],
        "trees": bare["trees"],
        "pipeline_seconds": round(pipeline_s, 1),
        "pipeline_peak_gb": round(pipeline_gb, 2),
        "bare_fit_seconds": round(bare["fit_seconds"], 1),
        "ratio": round(pipeline_s / bare["fit_seconds"], 2),
        "bare_process_peak_gb": round(bare_gb, 2),
        "pipeline_stages": stages,
        "retrain_seconds": round(warm_s, 1),
        "retrain_peak_gb": round(warm_gb, 2),
        "retrain_ratio": round(warm_s / bare["fit_seconds"], 2),
        "retrain_stages": warm_stages,
    }
    (OUT / "training.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    for label, key in (("first run", "ratio"), ("retrain, same extract", "retrain_ratio")):
        verdict = "met" if results[key] <= 1.5 else "NOT met"
        print(f"goal (whole command within 1.5× of the bare fit), {label}: {verdict}")


def _stages(printed: str) -> str:
    """The command's own `time:` line (per-stage wall times)."""
    line = next((line for line in printed.splitlines() if line.startswith("time:")), "")
    return line.removeprefix("time: ")


if __name__ == "__main__":
    main()
