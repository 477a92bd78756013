"""Train, evaluate and register the churn model."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd

from common.config import RetainConfig
from common.names import CHURN_MODEL
from features.definitions import LABEL_CHURN, feature_names
from features.validation import BankData
from training import report, tracking
from training.binary import describe_calibration
from training.contenders import LIGHTGBM, LOGISTIC
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
from training.feature_oracle import FeatureOracle, fit_feature_oracle
from training.model_logging import register_binary_model
from training.model_run import (
    BinaryComparison,
    RunRecord,
    binary_figures,
    compare_binary,
    largest_shifts,
    log_and_register,
)
from training.rules import CHURN_RULES
from training.truth import (
    ChurnTruth,
    align_truth,
    judge_against_truth,
    read_churn_truth,
    truth_is_complete,
)

# The source of the feature-limited oracle in a normal run.
OWN_TRAINING_ROWS = "this run's training rows (early stopping on its validation rows)"


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
    notes: dict[str, str] = field(default_factory=dict)  # what the truth said, calibration


def churn_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows where churn is defined: active at the snapshot, horizon observed."""
    return frame[frame[LABEL_CHURN].notna()]


def train_churn(
    bank: BankData,
    data_dir: Path,
    config: RetainConfig,
    feature_oracle: FeatureOracle | None = None,
) -> ChurnResult:
    """Build snapshots, fit LightGBM and baselines, evaluate on the test period, log and
    register in MLflow as a challenger (champion too if the name is new).

    On a synthetic bank (`_truth/` present) the run is also judged against the truth
    (`training.truth`); `feature_oracle` is a feature-limited oracle fitted elsewhere (on
    a larger bank) to apply instead of fitting one on this run's training rows.
    """
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
        train, valid, test, LABEL_CHURN, features, config.training, CHURN_RULES, timings=timings
    )
    notes = {"calibration": describe_calibration(comparison.fit)}
    truth = read_churn_truth(data_dir, config.features.churn.kind)
    if truth is not None:
        with tracking.stage(timings, "truth"):
            comparison, truth_notes = _judge(
                comparison, truth, train, valid, test, features, config, feature_oracle
            )
        notes |= truth_notes
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
        tags={f"note.{key}": value[:5000] for key, value in notes.items()},
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
        notes,
    )


def _judge(
    comparison: BinaryComparison,
    truth: ChurnTruth,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    features: list[str],
    config: RetainConfig,
    feature_oracle: FeatureOracle | None,
) -> tuple[BinaryComparison, dict[str, str]]:
    """The comparison judged against the truth, with notes on what was read and fitted."""
    notes = {"truth": truth.note or f"oracle: {truth.column}"}
    test_truth = align_truth(test, truth)
    if not truth_is_complete(test_truth):
        notes["truth"] = "the truth lacks some test rows: no oracle metrics"
        return comparison, notes
    if feature_oracle is None:
        train_truth, valid_truth = align_truth(train, truth), align_truth(valid, truth)
        known_train = train_truth["probability"].notna().to_numpy()
        known_valid = valid_truth["probability"].notna().to_numpy()
        feature_oracle = fit_feature_oracle(
            train[known_train],
            train_truth["probability"].to_numpy()[known_train],
            valid[known_valid],
            valid_truth["probability"].to_numpy()[known_valid],
            features,
            config.training.seed,
            OWN_TRAINING_ROWS,
        )
    notes["feature_oracle"] = f"fitted on {feature_oracle.source}"
    contenders = (LIGHTGBM, LOGISTIC, *(rule.contender for rule in CHURN_RULES))
    judged, headroom_notes = judge_against_truth(
        comparison, test_truth, contenders, feature_oracle.predict_proba(test)
    )
    return judged, notes | headroom_notes


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
