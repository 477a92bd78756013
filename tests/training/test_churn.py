"""The churn model end to end on a small synthetic bank: metrics, registry, behaviour."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from common.config import load_config, with_overrides
from common.names import CHURN_MODEL
from features import engine
from features.definitions import LABEL_CHURN
from features.validation import load_bank
from training.churn import churn_rows, train_churn
from training.dataset import build_training_frame

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from simulation.bank import generate_bank

    root = tmp_path_factory.mktemp("churn")
    data = root / "bank"
    generate_bank(data, n_customers=5000, months=24, seed=11, start=date(2023, 1, 1))
    config = load_config()
    config = with_overrides(config, "training", tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    config = config.model_copy(update={"output_dir": root / "outputs"})
    bank = load_bank(engine.connect(config.features), data, config.data)
    first = train_churn(bank, data, config)
    second = train_churn(bank, data, config)
    frame = churn_rows(build_training_frame(bank, first.plan, config.features))
    return {
        "config": config,
        "first": first,
        "second": second,
        "bank": bank,
        "test": frame[frame["split"] == "test"],
    }


def test_metrics_against_baselines_and_oracle(trained):
    metrics = trained["first"].metrics
    for key in (
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "ece",
        "calibration_slope",
        "calibration_intercept",
        "lift_at_10pct",
        "capture_at_10pct",
    ):
        rules = {f"baseline_rule_{key}", f"baseline_salary_outflow_{key}"}
        assert {key, f"baseline_logreg_{key}"} | rules <= set(metrics)
    assert metrics["roc_auc"] > metrics["baseline_rule_roc_auc"] + 0.1
    assert metrics["roc_auc"] <= metrics["oracle_roc_auc"] + 0.05
    # Relative to the truth: the harder bank of issue 14 puts its own oracle near 0.80
    # on this small bank, so an absolute bar would measure the generator, not the model.
    assert metrics["roc_auc"] > 0.85 * metrics["oracle_roc_auc"]


def test_metrics_against_the_truth(trained):
    """The synthetic truth: customers not yet leaving, the feature-limited oracle, the
    headroom share (or the reason it has none)."""
    result = trained["first"]
    metrics = result.metrics
    prefixes = ("", "baseline_logreg_", "baseline_rule_", "baseline_salary_outflow_")
    for prefix in (*prefixes, "oracle_", "feature_oracle_"):
        assert {f"{prefix}not_leaving_roc_auc", f"{prefix}not_leaving_pr_auc"} <= set(metrics)
    assert {"feature_oracle_roc_auc", "feature_oracle_pr_auc", "headroom_share"} <= set(metrics)
    # Customers not yet leaving are harder to rank than all customers, for the oracle too.
    assert metrics["oracle_not_leaving_roc_auc"] < metrics["oracle_roc_auc"]
    assert 0 < metrics["not_leaving_share"] < 1
    # The ceiling given the features cannot be far above the truth itself.
    assert metrics["feature_oracle_roc_auc"] <= metrics["oracle_roc_auc"] + 0.02
    share = metrics["headroom_share"]
    if share != share:
        assert "no headroom" in result.notes["headroom_share"]
    else:
        expected = (metrics["roc_auc"] - metrics["baseline_logreg_roc_auc"]) / (
            metrics["oracle_roc_auc"] - metrics["baseline_logreg_roc_auc"]
        )
        assert share == pytest.approx(expected)
    assert result.notes["feature_oracle"].startswith("fitted on this run's training rows")
    tags = MlflowClient().get_run(result.run_id).data.tags
    assert tags["note.calibration"] == result.notes["calibration"]
    params = MlflowClient().get_run(result.run_id).data.params
    assert params["fit.calibration"] in {"isotonic", "platt"}


def test_registry_first_is_champion_later_ones_challengers(trained):
    first, second = trained["first"], trained["second"]
    assert (first.version, sorted(first.aliases)) == ("1", ["challenger", "champion"])
    assert (second.version, second.aliases) == ("2", ["challenger"])
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(CHURN_MODEL, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(CHURN_MODEL, "challenger").version) == "2"


def test_champion_predicts_calibrated_probabilities_from_a_feature_frame(trained):
    model = mlflow.pyfunc.load_model(f"models:/{CHURN_MODEL}@champion")
    test = trained["test"]
    scores = np.asarray(model.predict(test))
    assert scores.shape == (len(test),)
    # Never a certainty: no customer is "100 % churn risk" or "0 %".
    assert ((scores > 0) & (scores < 1)).all()
    # Calibrated: the mean predicted risk is close to the realised rate.
    assert abs(scores.mean() - test[LABEL_CHURN].mean()) < 0.02


def test_customer_id_does_not_change_a_score(trained):
    model = mlflow.pyfunc.load_model(f"models:/{CHURN_MODEL}@champion")
    test = trained["test"].head(200)
    renamed = test.assign(customer_id=[f"X{i}" for i in range(len(test))])
    np.testing.assert_array_equal(model.predict(test), model.predict(renamed))


@pytest.mark.parametrize(
    ("change", "what", "min_ratio"),
    [
        (
            {
                "salary_stopped": 1.0,
                "salary_present": 0.0,
                "salary_sum_30d": 0.0,
                "days_since_last_salary": 75.0,
            },
            "salary stops",
            # A real but noisy sign: only some leavers show it, and job changes and
            # temporary dips fake it (docs/synthetic-bank.md).
            1.02,
        ),
        (
            {
                "complaint_open": 1.0,
                "complaint_count_90d": 1.0,
                "complaint_count_365d": 1.0,
                "complaint_sla_breach_365d": 1.0,
                "days_since_last_complaint": 20.0,
                "complaint_max_severity_365d": 3.0,
            },
            "an unresolved complaint",
            1.02,  # a weaker sign there: it acts through the latent engagement
        ),
    ],
)
def test_warning_signs_raise_churn_risk(trained, change, what, min_ratio):
    # The booster's own score: isotonic calibration is a step function, so small moves in
    # risk can land on the same step; it is monotone, so direction carries over.
    model = mlflow.pyfunc.load_model(f"models:/{CHURN_MODEL}@champion")
    booster = model.unwrap_python_model().model
    steady = trained["test"]
    steady = steady[(steady["salary_present"] == 1) & (steady["complaint_open"] == 0)].head(300)
    before = booster.raw_scores(steady)
    after = booster.raw_scores(steady.assign(**change))
    assert after.mean() > before.mean() * min_ratio, (
        f"{what}: {before.mean():.4f} → {after.mean():.4f}"
    )
    assert (after >= before).mean() > 0.8, f"{what} lowered risk for too many customers"


def test_logged_example_holds_no_personal_data(trained):
    run = MlflowClient().get_run(trained["first"].run_id)
    artifacts = Path(run.info.artifact_uri.removeprefix("file://"))
    examples = list(
        Path(mlflow.artifacts.download_artifacts(f"models:/{CHURN_MODEL}/1")).rglob(
            "input_example.json"
        )
    )
    assert examples, f"no input example under {artifacts}"
    logged = json.loads(examples[0].read_text())
    columns = set(logged.get("columns", []))
    assert columns and not columns & {"customer_id", "birth_date", "as_of", "joined_at"}
    params = run.data.params
    assert params["data.test_snapshot"] == str(trained["first"].plan.test)
    assert len(params["data.fingerprint"]) == 64
    assert pd.Timestamp(params["data.valid_snapshot"]) < pd.Timestamp(params["data.test_snapshot"])


def test_promotion_compares_on_the_same_holdout_and_records_why(trained):
    from training import registry

    holdout = trained["test"]
    kept = registry.decide(
        CHURN_MODEL, holdout, holdout[LABEL_CHURN].to_numpy(dtype=float), tolerance=-1.0
    )
    assert not kept.promoted and "worse than" in kept.reason
    assert 0.5 < kept.champion_score < 1 and 0.5 < kept.challenger_score < 1
    promoted = registry.decide(
        CHURN_MODEL, holdout, holdout[LABEL_CHURN].to_numpy(dtype=float), tolerance=1.0
    )
    assert promoted.promoted and "not worse than" in promoted.reason
    registry.apply(promoted, "test holdout")
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(CHURN_MODEL, "champion").version) == "2"
    assert (
        "not worse than" in client.get_model_version(CHURN_MODEL, "2").tags["last_promotion_check"]
    )
    again = registry.decide(
        CHURN_MODEL, holdout, holdout[LABEL_CHURN].to_numpy(dtype=float), tolerance=0.0
    )
    assert not again.promoted and again.reason == "the challenger already is the champion"


def test_run_logs_plots_tier_table_and_drift(trained):
    client = MlflowClient()
    run_id = trained["first"].run_id
    logged = {
        item.path
        for folder in ("plots", "evaluation")
        for item in client.list_artifacts(run_id, folder)
    }
    assert {
        f"plots/{name}.png"
        for name in (
            "roc",
            "precision_recall",
            "calibration",
            "cumulative_gains",
            "feature_importance",
            "shap_summary",
        )
    } <= logged
    assert {"evaluation/evaluation_by_tier.csv", "evaluation/feature_drift.csv"} <= logged
    metrics = client.get_run(run_id).data.metrics
    assert {"label_rate_train", "label_rate_test", "max_feature_psi"} <= set(metrics)
    tiers = pd.read_csv(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="evaluation/evaluation_by_tier.csv"
        )
    )
    assert tiers["customers"].sum() == len(trained["test"])


def test_backtest_rolls_the_origin_back_month_by_month(trained):
    from common.dates import add_months
    from training.backtest import summarise
    from training.churn import backtest_churn

    per_origin = backtest_churn(trained["bank"], trained["config"], origins=2)
    latest = trained["first"].plan.test
    assert list(per_origin["origin"]) == [str(add_months(latest, -1)), str(latest)]
    assert per_origin["roc_auc"].between(0.6, 1).all()
    # The latest origin is the normal run's split: same test rows.
    assert per_origin["test_rows"].iloc[-1] == len(trained["test"])
    summary = summarise(per_origin)
    assert summary["backtest_origins"] == 2
    assert summary["backtest_roc_auc_std"] >= 0


def test_matrix_path_scores_exactly_like_the_frame_path(trained):
    """Serving feeds boosters a float matrix (category → training index); it must give the
    very scores of the pandas-categorical frame LightGBM was trained on, also for unseen
    levels, missing values and text in a numeric column."""
    model = mlflow.pyfunc.load_model(f"models:/{CHURN_MODEL}@champion")
    binary = model.unwrap_python_model().model
    test = trained["test"].head(300).copy()
    test["region"] = test["region"].astype("object")
    test.loc[test.index[:5], "region"] = "Atlantis"  # unseen level
    test.loc[test.index[5:10], "tier"] = None
    test["age_years"] = test["age_years"].astype("object")
    test.loc[test.index[10], "age_years"] = "unknown"
    by_frame = binary.booster.predict(binary.schema.prepare(test))
    by_matrix = binary.booster.predict(binary.schema.matrix(test))
    np.testing.assert_array_equal(by_frame, by_matrix)
    np.testing.assert_array_equal(
        binary.booster.predict(binary.schema.prepare(test), pred_contrib=True),
        binary.contributions(test),
    )
