"""Train, evaluate and register the churn model."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from common.config import RetainConfig
from common.names import CHURN_MODEL, TRUTH_CHURN
from features.definitions import LABEL_CHURN, feature_names
from features.validation import BankData
from training import report, tracking
from training.contenders import INACTIVITY, LIGHTGBM
from training.dataset import (
    SnapshotPlan,
    build_snapshot_frame,
    build_training_frame,
    check_history,
    first_record,
    plan_snapshots,
    shift_plan,
    snapshot_cache,
)
from training.model_logging import register_binary_model
from training.model_run import (
    BinaryComparison,
    RunRecord,
    binary_figures,
    compare_binary,
    largest_shifts,
    log_and_register,
)

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
    comparison = compare_binary(
        train,
        valid,
        test,
        LABEL_CHURN,
        features,
        config.training,
        RULE_FEATURE,
        INACTIVITY,
        oracle=oracle_scores(data_dir, test),
        timings=timings,
    )
    with tracking.stage(timings, "evaluation"):
        figures = binary_figures(comparison, test, config.training.seed)
    rows = {"train": len(train), "valid": len(valid), "test": len(test)}
    record = RunRecord(
        run_name="churn",
        model_name=CHURN_MODEL,
        params=tracking.flatten(config.model_dump(mode="json"))
        | tracking.snapshot_params(data_dir, plan, rows),
        metrics=comparison.metrics,
        fit=comparison.fit,
        figures=figures,
        tables={
            "evaluation_by_tier.csv": report.tier_table(
                test, comparison.labels, comparison.scores[LIGHTGBM.title]
            ),
            "feature_drift.csv": comparison.drift,
        },
    )
    with tracking.stage(timings, "mlflow"):
        registration = log_and_register(
            record,
            config.training,
            partial(register_binary_model, comparison.model, test, CHURN_MODEL),
        )
    tracking.log_timings(registration.run_id, timings)
    return ChurnResult(
        comparison.metrics,
        plan,
        registration.run_id,
        registration.version,
        registration.aliases,
        rows,
        drift_warning(comparison),
        timings,
    )


def drift_warning(comparison: BinaryComparison) -> str | None:
    """A warning when features shifted between training and test beyond the usual bar."""
    if not comparison.metrics["max_feature_psi"] > report.PSI_WARNING:
        return None
    return (
        "features shifted between training and test (population stability index "
        + largest_shifts(comparison.drift)
        + f"; above {report.PSI_WARNING} is a shift): metrics may not hold later"
    )


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
