"""Which LightGBM settings for churn, chosen on validation, and the logistic beside them.

Per seed: a synthetic bank of `--customers` × `--months` (kept in `--workdir`), the churn
snapshots of `retain train churn`, then every variant of `VARIANTS` fitted as training
fits it (early stopping and calibration on the validation snapshot); prints validation and
test ROC AUC of each, and of the logistic regression. Choose on the validation column of
seeds 42 and 7 only; other seeds show whether the choice holds.

Usage: .venv/bin/python bench/churn_settings.py --seeds 42 7 [--customers 5000]
       [--months 24] [--variants default leaves3]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from _timing import ROOT  # noqa: E402  (bench/ is the script folder)

sys.path.insert(0, str(ROOT))  # the packages, not bench/features.py

from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score

VARIANTS = {
    "default": {},
    "leaves3": {"num_leaves": 3},
    "leaves3_mcs200": {"num_leaves": 3, "min_child_samples": 200},
    "leaves3_ff05_l2_10": {"num_leaves": 3, "feature_fraction": 0.5, "lambda_l2": 10.0},
    "leaves5_mcs200_ff05": {"num_leaves": 5, "min_child_samples": 200, "feature_fraction": 0.5},
    "leaves7_mcs300_l2_10": {"min_child_samples": 300, "lambda_l2": 10.0},
    "leaves15_mcs200": {"num_leaves": 15, "min_child_samples": 200},
    "stumps": {"num_leaves": 2, "learning_rate": 0.05},
    "leaves7_lr01": {"learning_rate": 0.01, "max_trees": 5000, "early_stopping_rounds": 300},
}


def seed_rows(seed: int, args: argparse.Namespace, config) -> list[tuple]:
    """(variant, validation AUC, test AUC, trees, seconds) for one bank."""
    from features import engine
    from features.definitions import LABEL_CHURN, feature_names
    from features.validation import load_bank
    from simulation.bank import generate_bank
    from training.binary import fit_lightgbm, fit_logistic_baseline, logistic_scores
    from training.churn import churn_rows
    from training.dataset import build_training_frame, plan_snapshots

    bank_dir = args.workdir / f"bank_{seed}_{args.customers}x{args.months}"
    if not bank_dir.exists():
        generate_bank(bank_dir, args.customers, args.months, seed, start=date(2023, 1, 1))
    bank = load_bank(engine.connect(config.features), bank_dir, config.data)
    plan = plan_snapshots(bank.extracted_at, config.features, config.training)
    frame = churn_rows(build_training_frame(bank, plan, config.features))
    features = feature_names(config.features)
    train, valid, test = (frame[frame["split"] == name] for name in ("train", "valid", "test"))
    y_valid, y_test = (part[LABEL_CHURN].to_numpy(float) for part in (valid, test))
    logistic = fit_logistic_baseline(train, LABEL_CHURN, features, config.training.seed)
    rows = [
        (
            "logistic regression",
            roc_auc_score(y_valid, logistic_scores(logistic, valid, features)),
            roc_auc_score(y_test, logistic_scores(logistic, test, features)),
            None,
            None,
        )
    ]
    for name in args.variants:
        lightgbm = config.training.lightgbm.model_copy(update=VARIANTS[name])
        settings = config.training.model_copy(update={"lightgbm": lightgbm})
        started = time.perf_counter()
        model, fit = fit_lightgbm(train, valid, LABEL_CHURN, features, settings)
        rows.append(
            (
                name,
                roc_auc_score(y_valid, model.predict_proba(valid)),
                roc_auc_score(y_test, model.predict_proba(test)),
                fit.best_iteration,
                time.perf_counter() - started,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--workdir", type=Path, default=Path("bench/out/churn_settings"))
    args = parser.parse_args()
    from common.config import load_config

    config = load_config()
    console = Console()
    for seed in args.seeds:
        table = Table(title=f"seed {seed}: {args.customers:,} customers × {args.months} months")
        for column in ("settings", "validation AUC", "test AUC", "trees", "fit s"):
            table.add_column(column, justify="left" if column == "settings" else "right")
        for name, valid_auc, test_auc, trees, seconds in seed_rows(seed, args, config):
            table.add_row(
                name,
                f"{valid_auc:.4f}",
                f"{test_auc:.4f}",
                "" if trees is None else str(trees),
                "" if seconds is None else f"{seconds:.1f}",
            )
        console.print(table)


if __name__ == "__main__":
    main()
