"""Train, evaluate and register the churn model."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import AnyType

from common.config import RetainConfig
from common.names import CHURN_MODEL, TRUTH_CHURN
from evaluation.metrics import binary_metrics
from features.definitions import LABEL_CHURN, feature_names
from features.validation import BankData
from training import report, tracking
from training.binary import (
    RuleBaseline,
    fit_lightgbm,
    fit_logistic_baseline,
    logistic_scores,
)
from training.dataset import (
    SnapshotPlan,
    build_snapshot_frame,
    build_training_frame,
    check_history,
    plan_snapshots,
    shift_plan,
    snapshot_cache,
)
from training.model import ModelSchema
from training.model_logging import log_pyfunc_model

# Inactivity: what a retention team without a model would ring first.
RULE_FEATURE = "days_since_last_txn"


@dataclass
class ChurnResult:
    """What a training run produced."""

    metrics: dict[str, float]
    plan: SnapshotPlan
    run_id: str
    version: str
    aliases: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    drift_warning: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage


def churn_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows where churn is defined: active at the snapshot, horizon observed."""
    return frame[frame[LABEL_CHURN].notna()]


def oracle_scores(data_dir: Path, test: pd.DataFrame) -> np.ndarray | None:
    """The synthetic generator's own churn probability for the test rows, if it left one."""
    path = data_dir / TRUTH_CHURN
    if not path.exists():
        return None
    truth = pd.read_parquet(path, columns=["customer_id", "month_start", "p_churn_90d"])
    truth["as_of"] = pd.to_datetime(truth["month_start"])
    merged = test[["customer_id", "as_of"]].merge(truth, on=["customer_id", "as_of"], how="left")
    return None if merged["p_churn_90d"].isna().any() else merged["p_churn_90d"].to_numpy()


def train_churn(bank: BankData, data_dir: Path, config: RetainConfig) -> ChurnResult:
    """Build snapshots, fit LightGBM and baselines, evaluate on the test period, log and
    register in MLflow as a challenger (champion too if the name is new)."""
    timings: dict[str, float] = {}
    with tracking.stage(timings, "features"):
        plan = plan_snapshots(bank.extracted_at, config.features, config.training)
        check_history(plan, first_record(bank))
        frame = churn_rows(
            build_training_frame(bank, plan, config.features, snapshot_cache(config))
        )
        features = feature_names(config.features)
        train, valid, test = (frame[frame["split"] == name] for name in ("train", "valid", "test"))
        del frame
    with tracking.stage(timings, "lightgbm"):
        model, fit = fit_lightgbm(train, valid, LABEL_CHURN, features, config.training)

    y_test = test[LABEL_CHURN].to_numpy(dtype=float)
    with tracking.stage(timings, "baselines"):
        logistic = fit_logistic_baseline(train, LABEL_CHURN, features, config.training.seed)
        rule = RuleBaseline.fit(train, LABEL_CHURN, RULE_FEATURE)
    with tracking.stage(timings, "evaluation"):
        scores = {
            "LightGBM": model.predict_proba(test),
            "logistic regression": logistic_scores(logistic, test, features),
            "rule: inactivity": rule.predict_proba(test),
        }
        metrics = binary_metrics(y_test, scores["LightGBM"])
        metrics |= binary_metrics(y_test, scores["logistic regression"], prefix="baseline_logreg_")
        metrics |= binary_metrics(y_test, scores["rule: inactivity"], prefix="baseline_rule_")
        oracle = oracle_scores(data_dir, test)
        if oracle is not None:
            scores["oracle (truth)"] = oracle
            metrics |= {
                f"oracle_{k}": v
                for k, v in binary_metrics(y_test, oracle).items()
                if k in ("roc_auc", "pr_auc")
            }
        # Drift between the periods the model learnt from and the one it is judged on.
        drift = report.population_stability(train, test, features)
        metrics |= {
            "label_rate_train": float(train[LABEL_CHURN].mean()),
            "label_rate_test": float(y_test.mean()),
            "max_feature_psi": float(drift["psi"].max()),
            "best_iteration": float(fit.best_iteration),
        }
        figures = report.curve_figures(y_test, scores)
        figures |= report.importance_figures(
            model, test.sample(min(len(test), 2000), random_state=config.training.seed)
        )
    tables = {
        "evaluation_by_tier.csv": report.tier_table(test, y_test, scores["LightGBM"]),
        "feature_drift.csv": drift,
    }
    rows = {"train": len(train), "valid": len(valid), "test": len(test)}
    with tracking.stage(timings, "mlflow"):
        run_id, version, aliases = _log_and_register(
            model, test, features, metrics, plan, rows, data_dir, config, fit, figures, tables
        )
    tracking.log_timings(run_id, timings)
    warning = None
    if metrics["max_feature_psi"] > report.PSI_WARNING:
        top = drift.head(3)
        warning = (
            "features shifted between training and test (population stability index "
            + ", ".join(f"{r.feature} {r.psi:.2f}" for r in top.itertuples())
            + f"; above {report.PSI_WARNING} is a shift): metrics may not hold later"
        )
    return ChurnResult(metrics, plan, run_id, version, aliases, rows, warning, timings)


def register_binary_model(model, holdout: pd.DataFrame, name: str) -> tuple[str, list[str]]:
    """Log the model into the active run as one pyfunc (booster, calibration, schema),
    register it under `name`, and set the aliases. The input example is five rows of model
    features only: no ids, no birth dates, no names."""
    example = model.schema.prepare(holdout.head(5)).astype(
        {column: "object" for column in model.schema.categories}
    )
    with tempfile.TemporaryDirectory() as folder:
        version = log_pyfunc_model(
            "binary", model.save(Path(folder)), name, model_signature(model.schema), example
        )
    return version, tracking.assign_aliases(name, version)


def model_signature(schema: ModelSchema) -> ModelSignature:
    """Every feature optional (a missing value is information). Categoricals accept text or
    pandas categoricals (MLflow's `string` refuses the latter); the model applies its own
    training levels either way."""
    inputs = Schema(
        [
            ColSpec(AnyType() if name in schema.categories else "double", name, required=False)
            for name in schema.features
        ]
    )
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double")]))


def first_record(bank: BankData):
    """The day the extract's history starts: first customer joined or first transaction."""
    joined = bank.tables["customers"].joined_at.min().to_pyarrow().as_py()
    first_transaction = bank.tables["transactions"].ts.min().to_pyarrow().as_py().date()
    return max(joined, first_transaction)


def _log_and_register(
    model, test, features, metrics, plan, rows, data_dir, config, fit, figures, tables
) -> tuple[str, str, list[str]]:
    tracking.use_tracking(config.training.tracking_uri, config.training.experiment)
    with mlflow.start_run(run_name="churn") as run:
        mlflow.log_params(tracking.flatten(config.model_dump(mode="json")))
        tracking.log_snapshot_data(data_dir, plan, rows)
        tracking.log_fit(fit)
        mlflow.set_tags(tracking.standard_tags(CHURN_MODEL))
        tracking.log_evaluation(metrics, figures, tables)
        version, aliases = register_binary_model(model, test, CHURN_MODEL)
        mlflow.set_tag("registered_version", version)
    return run.info.run_id, version, aliases


def backtest_churn(bank: BankData, config: RetainConfig, origins: int) -> pd.DataFrame:
    """Train and test at `origins` rolling monthly origins ending at the latest one; each
    origin keeps the purge gaps of a normal run. Returns test metrics per origin."""
    from training.backtest import evaluate_origins

    latest = plan_snapshots(bank.extracted_at, config.features, config.training)
    plans = [shift_plan(latest, k) for k in reversed(range(origins))]
    check_history(plans[0], first_record(bank))
    dates = sorted({day for plan in plans for day in plan.all_dates})
    frame = churn_rows(build_snapshot_frame(bank, dates, config.features, snapshot_cache(config)))
    day = frame["as_of"].dt.date

    def splits():
        for plan in plans:
            yield (
                str(plan.test),
                frame[day.isin(plan.train)],
                frame[day == plan.valid],
                frame[day == plan.test],
            )

    return evaluate_origins(splits(), LABEL_CHURN, feature_names(config.features), config.training)
