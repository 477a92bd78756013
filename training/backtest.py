"""Backtesting: the same training on several rolling origins, because one split can mislead."""

from __future__ import annotations

from collections.abc import Iterable

import mlflow
import numpy as np
import pandas as pd

from common.config import TrainingConfig
from evaluation.metrics import binary_metrics
from training.binary import fit_lightgbm, fit_logistic_baseline, logistic_scores
from training.contenders import LOGISTIC

# What each origin reports, and what the summary spreads over origins.
ORIGIN_METRICS = ("roc_auc", "pr_auc", "ece", LOGISTIC.key("roc_auc"))
SUMMARISED = ("roc_auc", LOGISTIC.key("roc_auc"), "pr_auc")


def evaluate_origins(
    splits: Iterable[tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]],
    label: str,
    features: list[str],
    config: TrainingConfig,
) -> pd.DataFrame:
    """Fit LightGBM and the logistic baseline at each origin (train on what came before,
    validate on the period after, test on the next); one row of test metrics per origin."""
    rows = []
    for origin, train, valid, test in splits:
        model, fit = fit_lightgbm(train, valid, label, features, config)
        y_test = test[label].to_numpy(dtype=float)
        logistic = fit_logistic_baseline(train, label, features, config.seed)
        metrics = binary_metrics(y_test, model.predict_proba(test))
        metrics |= binary_metrics(
            y_test, logistic_scores(logistic, test, features), prefix=LOGISTIC.prefix
        )
        rows.append(
            {
                "origin": origin,
                "train_rows": len(train),
                "test_rows": len(test),
                "test_positive_rate": float(y_test.mean()),
                "trees": fit.best_iteration,
                **{key: metrics[key] for key in ORIGIN_METRICS},
            }
        )
    return pd.DataFrame(rows)


def summarise(per_origin: pd.DataFrame) -> dict[str, float]:
    """Mean and spread of the test metric over origins, as MLflow metrics."""
    summary = {}
    for key in SUMMARISED:
        values = per_origin[key].to_numpy()
        summary |= {
            f"backtest_{key}_mean": float(values.mean()),
            f"backtest_{key}_std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            f"backtest_{key}_min": float(values.min()),
        }
    summary["backtest_origins"] = float(len(per_origin))
    summary["backtest_lightgbm_wins"] = float(
        np.sum(per_origin["roc_auc"] > per_origin[LOGISTIC.key("roc_auc")])
    )
    return summary


def log_backtest(per_origin: pd.DataFrame) -> dict[str, float]:
    """Log the per-origin table and the summary into the active MLflow run."""
    summary = summarise(per_origin)
    mlflow.log_metrics(summary)
    mlflow.log_text(per_origin.to_csv(index=False), "evaluation/backtest.csv")
    return summary


def log_xsell_backtest(per_origin: pd.DataFrame) -> None:
    """Log the cross-sell per-origin table and MAP@7's mean and spread over origins into
    the active MLflow run."""
    mlflow.log_text(per_origin.to_csv(index=False), "evaluation/backtest.csv")
    values = per_origin["map_at_7"]
    mlflow.log_metrics(
        {
            "backtest_map_at_7_mean": float(values.mean()),
            "backtest_map_at_7_std": float(values.std(ddof=1)) if len(per_origin) > 1 else 0.0,
        }
    )
