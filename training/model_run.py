"""What every training run shares: fit against baselines, score the test period, metrics,
drift, then log the run and register the model in MLflow.

Churn and table mode fit a binary model with `compare_binary`; cross-sell and uplift score
their own way; all four log through `log_and_register`, which takes the typed `RunRecord`
of what the run found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from common.config import TrainingConfig
from evaluation.metrics import binary_metrics
from training import report, tracking
from training.binary import FitReport, fit_lightgbm, fit_logistic_baseline, logistic_scores
from training.contenders import LIGHTGBM, LOGISTIC
from training.model import BinaryModel
from training.rules import Rule, RuleBaseline

# The oracle's metrics worth comparing: its probabilities are not fitted to be calibrated.
ORACLE_METRICS = ("roc_auc", "pr_auc")


@dataclass(frozen=True)
class BinaryComparison:
    """A binary model fitted and judged against its baselines on the test period."""

    model: BinaryModel
    fit: FitReport
    labels: np.ndarray  # the test period's outcomes
    scores: dict[str, np.ndarray]  # by contender title: the model, the baselines, the oracle
    metrics: dict[str, float]  # every contender's metrics, drift and label rates
    drift: pd.DataFrame  # population stability per feature, largest first


def compare_binary(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    label: str,
    features: list[str],
    config: TrainingConfig,
    rules: tuple[Rule, ...],
    timings: dict[str, float] | None = None,
) -> BinaryComparison:
    """Fit LightGBM (early stopping and calibration on `valid`), the logistic baseline and
    the rule baselines; score `test` with each.

    Args:
        train: training rows, `valid` the later validation rows, `test` the rows judged.
        label: the 0/1 outcome column.
        features: model inputs.
        config: tree settings, seed, calibration.
        rules: the rule baselines (`training.rules`), each with its title and prefix.
        timings: wall time per stage (`lightgbm`, `baselines`, `evaluation`) added here.

    Returns:
        The fitted model and what the test period says of it: metrics of every contender
        (prefixed), `label_rate_train`, `label_rate_test`, `max_feature_psi`,
        `best_iteration`.
    """
    timings = {} if timings is None else timings
    with tracking.stage(timings, "lightgbm"):
        model, fit = fit_lightgbm(train, valid, label, features, config)
    labels = test[label].to_numpy(dtype=float)
    with tracking.stage(timings, "baselines"):
        logistic = fit_logistic_baseline(train, label, features, config.seed)
        rule_baselines = [RuleBaseline.fit(train, label, rule) for rule in rules]
    with tracking.stage(timings, "evaluation"):
        scores = {
            LIGHTGBM.title: model.predict_proba(test),
            LOGISTIC.title: logistic_scores(logistic, test, features),
        }
        for rule, baseline in zip(rules, rule_baselines, strict=True):
            scores[rule.contender.title] = baseline.predict_proba(test)
        metrics: dict[str, float] = {}
        for contender in (LIGHTGBM, LOGISTIC, *(rule.contender for rule in rules)):
            metrics |= binary_metrics(labels, scores[contender.title], prefix=contender.prefix)
        # Drift between the periods the model learnt from and the one it is judged on.
        drift = report.population_stability(train, test, features)
        metrics |= {
            "label_rate_train": float(train[label].mean()),
            "label_rate_test": float(labels.mean()),
            "max_feature_psi": float(customer_drift(drift)["psi"].max()),
            "best_iteration": float(fit.best_iteration),
        }
    return BinaryComparison(model, fit, labels, scores, metrics, drift)


def binary_figures(comparison: BinaryComparison, test: pd.DataFrame, seed: int) -> dict:
    """ROC, precision-recall, calibration and gains of every contender; the model's gain
    importance and SHAP summary on a sample of at most 2,000 test rows drawn with `seed`."""
    figures = report.curve_figures(comparison.labels, comparison.scores)
    sample = test.sample(min(len(test), 2000), random_state=seed)
    return figures | report.importance_figures(comparison.model, sample)


def customer_drift(drift: pd.DataFrame) -> pd.DataFrame:
    """The drift rows of features that differ between customers (not market-wide)."""
    return drift[~drift["market_wide"]]


def largest_shifts(drift: pd.DataFrame, count: int = 3) -> str:
    """The customer features that moved most between training and test, with their PSI."""
    rows = customer_drift(drift).head(count).itertuples()
    return ", ".join(f"{row.feature} {row.psi:.2f}" for row in rows)


@dataclass(frozen=True)
class RunRecord:
    """What one training run logs to MLflow besides the model itself."""

    run_name: str
    model_name: str  # the registered name, also the run's `model` tag
    params: dict[str, Any]
    metrics: dict[str, float]
    fit: FitReport | None = None
    figures: dict = field(default_factory=dict)  # PNG plots by name
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # CSV files by name
    tags: dict[str, str] = field(default_factory=dict)  # notes, e.g. why a metric is missing


@dataclass(frozen=True)
class Registration:
    """Where a run went and the model version it registered."""

    run_id: str
    version: str
    aliases: list[str]


def log_and_register(
    record: RunRecord,
    config: TrainingConfig,
    register: Callable[[], tuple[str, list[str]]],
) -> Registration:
    """Log `record` as one MLflow run, then `register()` the model inside it (it returns
    the new version and its aliases, which the run is tagged with)."""
    tracking.use_tracking(config.tracking_uri, config.experiment)
    with mlflow.start_run(run_name=record.run_name) as run:
        mlflow.log_params(record.params)
        if record.fit is not None:
            tracking.log_fit(record.fit)
        mlflow.set_tags(tracking.standard_tags(record.model_name) | record.tags)
        tracking.log_evaluation(record.metrics, record.figures, record.tables)
        version, aliases = register()
        mlflow.set_tag("registered_version", version)
    return Registration(run.info.run_id, version, aliases)
