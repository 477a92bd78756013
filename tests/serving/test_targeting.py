"""Who gets a retention callback: by churn risk, by risk × value, or by the uplift model.

The uplift model here is built by hand from training objects (serving itself never imports
training): the churn champion is its baseline, and a one-split booster shifts the log-odds
of a call by −3 for customers aged 45 or more and by 0 for the younger.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from banks import serving_config, steady_customers

from common.errors import RetainError
from common.names import OWED
from serving.batch import score_campaign
from serving.decision import NO_ACTION, RETENTION_CALLBACK, decide, predict_uplift
from serving.models import UPLIFT_MODEL, load_champions
from serving.outbox import task_id
from serving.rows import FeatureRows
from training.model import BinaryModel, Calibration, ModelSchema
from training.uplift import UpliftModel

pytestmark = [pytest.mark.slow, pytest.mark.integration]
NOW = datetime(2025, 1, 1)
AGE_SPLIT = 45.0
SHIFT = -3.0


def shift_booster() -> lgb.Booster:
    """Raw score exactly SHIFT from about AGE_SPLIT on, 0 below (one L2 tree, rate 1)."""
    ages = np.arange(18.0, 91.0)
    target = np.where(ages >= AGE_SPLIT, SHIFT, 0.0)
    params = {
        "objective": "regression",
        "num_leaves": 2,
        "learning_rate": 1.0,
        "min_data_in_leaf": 1,
        "min_sum_hessian_in_leaf": 0.0,
        "lambda_l2": 0.0,
        "boost_from_average": False,
        "verbosity": -1,
    }
    return lgb.train(params, lgb.Dataset(ages.reshape(-1, 1), target), num_boost_round=1)


@pytest.fixture(scope="module")
def uplift(served):
    shift = BinaryModel(shift_booster(), Calibration("platt"), ModelSchema(("age_years",), {}))
    model = UpliftModel(served["champions"].churn, shift)
    champions = replace(served["champions"], uplift=model, uplift_version="1")
    return {"model": model, "champions": champions}


def steady(features: pd.DataFrame, rows: int) -> pd.DataFrame:
    """As in test_decision, and with a known age (the uplift shift splits on it)."""
    return steady_customers(features[features["age_years"].notna()], rows)


def shifted(uplift, frame: pd.DataFrame) -> np.ndarray:
    """Customers whose call shifts the log-odds by SHIFT (the others: by 0)."""
    raw = uplift["model"].shift.booster.predict(frame[["age_years"]].to_numpy(), raw_score=True)
    return raw < SHIFT / 2


def test_the_hand_made_shift_is_minus_three_or_zero(served, uplift):
    ages = served["features"]["age_years"].dropna().to_numpy()
    raw = uplift["model"].shift.booster.predict(ages.reshape(-1, 1), raw_score=True)
    assert set(np.unique(raw)) == {SHIFT, 0.0}
    # The split falls between the training ages 44 and 45.
    assert (raw[ages >= AGE_SPLIT] == SHIFT).all() and (raw[ages < AGE_SPLIT - 1] == 0).all()


def test_uplift_targeting_calls_exactly_those_a_call_is_expected_to_keep(served, uplift):
    customers = steady(served["features"], 240)
    predicted = uplift["model"].predict_uplift(customers)
    config = serving_config(served, targeting="uplift")
    value = customers["customer_value"].to_numpy(dtype=float)
    worth = (predicted >= config.uplift_min_reduction) & (predicted * value >= config.call_cost)
    old = shifted(uplift, customers)
    # Customers whose churn baseline is tiny gain little even from a big shift.
    assert worth[old].sum() >= 40 and not worth[~old].any()
    # Some customers worth a call are held back by the rules.
    chosen = np.flatnonzero(worth)
    churned, cooling, blocked = chosen[:5], chosen[5:10], chosen[10:15]
    customers.loc[churned, "tier"] = "churned"
    customers.loc[cooling, "days_since_last_callback"] = 5.0
    customers.loc[blocked, "do_not_contact"] = 1.0
    held_back = np.zeros(len(customers), dtype=bool)
    held_back[np.concatenate([churned, cooling, blocked])] = True

    decisions = decide(customers, uplift["champions"], config, NOW)
    frame = decisions.frame
    called = (frame["action"] == RETENTION_CALLBACK).to_numpy()
    np.testing.assert_array_equal(called, worth & ~held_back)
    assert (frame.loc[blocked, "action"] == NO_ACTION).all()
    np.testing.assert_allclose(frame["uplift"], predicted, rtol=0, atol=1e-12)
    retained = frame[called]
    np.testing.assert_allclose(
        retained["expected_value"], retained["uplift"] * retained["customer_value"]
    )
    assert retained["why"].str.contains("uplift model").all()
    assert decisions.versions[UPLIFT_MODEL] == "1"


def test_a_call_whose_kept_value_does_not_pay_for_it_is_not_made(served, uplift):
    customers = steady(served["features"], 240)
    free = decide(
        customers,
        uplift["champions"],
        serving_config(served, targeting="uplift", call_cost=0.0),
        NOW,
    ).frame
    called = free[free["action"] == RETENTION_CALLBACK]
    assert len(called) >= 10
    cost = float(called["expected_value"].median())  # half the free calls keep less
    config = serving_config(served, targeting="uplift", call_cost=cost)
    frame = decide(customers, uplift["champions"], config, NOW).frame
    kept = frame["uplift"] * frame["customer_value"]
    np.testing.assert_array_equal(
        (frame["action"] == RETENTION_CALLBACK).to_numpy(),
        ((frame["uplift"] >= config.uplift_min_reduction) & (kept >= cost)).to_numpy(),
    )
    assert 0 < (frame["action"] == RETENTION_CALLBACK).sum() < len(called)
    assert (
        frame.loc[frame["action"] == RETENTION_CALLBACK, "why"]
        .str.contains(f"call that costs {cost:,.0f}")
        .all()
    )


def test_the_uplift_floor_is_inclusive(served, uplift):
    customers = steady(served["features"], 120)
    first = decide(customers, uplift["champions"], serving_config(served, targeting="uplift"), NOW)
    values = first.frame["uplift"].to_numpy()
    positive = np.sort(values[values > 0.005])
    floor = float(positive[len(positive) // 2])  # one customer's uplift exactly
    config = serving_config(served, targeting="uplift", uplift_min_reduction=floor, call_cost=0)
    frame = decide(customers, uplift["champions"], config, NOW).frame
    called = (frame["action"] == RETENTION_CALLBACK).to_numpy()
    assert (values == floor).any()
    np.testing.assert_array_equal(called, values >= floor)


def test_uplift_targeting_ignores_the_risk_thresholds(served, uplift):
    customers = steady(served["features"], 120)
    tiers = {
        name: policy.model_copy(update={"churn_threshold": 0.0})
        for name, policy in served["config"].serving.tiers.items()
    }
    by_risk = decide(customers, uplift["champions"], serving_config(served, tiers=tiers), NOW)
    assert (by_risk.frame["action"] == RETENTION_CALLBACK).all()
    by_uplift = decide(
        customers, uplift["champions"], serving_config(served, tiers=tiers, targeting="uplift"), NOW
    )
    young = ~shifted(uplift, customers)
    assert young.any()
    assert not (by_uplift.frame.loc[young, "action"] == RETENTION_CALLBACK).any()


def test_predict_uplift_on_stored_dicts_equals_the_training_model(served, uplift, tmp_path):
    from serving.store import open_store

    batch = served["features"].head(300)
    expected = uplift["model"].predict_uplift(batch)
    on_frame = predict_uplift(FeatureRows(frame=batch), uplift["model"])
    np.testing.assert_allclose(on_frame, expected, rtol=0, atol=1e-12)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store.publish(batch)
    looked_up, missing = store.lookup(list(batch["customer_id"]))
    assert missing == []
    np.testing.assert_allclose(
        predict_uplift(looked_up, uplift["model"]), expected, rtol=0, atol=1e-12
    )
    records = FeatureRows(records=batch.astype(object).to_dict("records"))
    np.testing.assert_allclose(
        predict_uplift(records, uplift["model"]), expected, rtol=0, atol=1e-12
    )


def test_expected_value_targeting_calls_when_risk_times_value_is_enough(served, uplift):
    customers = steady(served["features"], 200)
    base = decide(customers, served["champions"], served["config"].serving, NOW).frame
    kept = (base["churn_probability"] * base["customer_value"]).to_numpy()
    floor = float(np.quantile(kept, 0.6))
    config = serving_config(served, targeting="expected_value", retention_min_expected_value=floor)
    frame = decide(customers, uplift["champions"], config, NOW).frame
    called = (frame["action"] == RETENTION_CALLBACK).to_numpy()
    np.testing.assert_array_equal(called, kept >= floor)
    assert 0 < called.sum() < len(called)
    np.testing.assert_allclose(frame.loc[called, "expected_value"], kept[called])
    assert frame.loc[called, "why"].str.contains("× value").all()
    assert frame["uplift"].isna().all()


def test_risk_targeting_is_unchanged_by_an_uplift_champion(served, uplift):
    customers = steady(served["features"], 200)
    config = served["config"].serving
    assert config.targeting == "risk"
    plain = decide(customers, served["champions"], config, NOW)
    with_uplift = decide(customers, uplift["champions"], config, NOW)
    pd.testing.assert_frame_equal(plain.frame, with_uplift.frame)
    frame = plain.frame
    threshold = np.array([config.tiers[t].churn_threshold for t in frame["tier"]])
    called = (frame["action"] == RETENTION_CALLBACK).to_numpy()
    np.testing.assert_array_equal(called, frame["churn_probability"].to_numpy() >= threshold)
    np.testing.assert_allclose(
        frame.loc[called, "expected_value"],
        frame.loc[called, "churn_probability"] * frame.loc[called, "customer_value"],
    )
    assert frame["uplift"].isna().all()


def test_uplift_targeting_needs_an_uplift_champion(served):
    config = served["config"]
    config = config.model_copy(
        update={"serving": config.serving.model_copy(update={"targeting": "uplift"})}
    )
    with pytest.raises(RetainError, match="no champion of retain-uplift-churn"):
        load_champions(config)


def test_uplift_champion_from_the_registry_serves_the_same_uplift(served, uplift, tmp_path):
    import mlflow

    from training import tracking
    from training.model_logging import log_pyfunc_model

    # A copy of the shared registry (its artifacts stay where they are), plus an uplift model.
    shutil.copy(served["root"] / "mlflow.db", tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    try:
        tracking.use_tracking(uri, "uplift-targeting")
        with mlflow.start_run(), tempfile.TemporaryDirectory() as folder:
            version = log_pyfunc_model("uplift", uplift["model"].save(Path(folder)), UPLIFT_MODEL)
        tracking.assign_aliases(UPLIFT_MODEL, version)
    finally:  # other tests of the session keep the registry they had
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
    config = served["config"].model_copy(
        update={
            "training": served["config"].training.model_copy(update={"tracking_uri": uri}),
            "serving": served["config"].serving.model_copy(update={"targeting": "uplift"}),
        }
    )
    champions = load_champions(config)
    assert champions.versions[UPLIFT_MODEL] == "1"
    batch = served["features"].head(200)
    np.testing.assert_allclose(
        predict_uplift(FeatureRows(frame=batch), champions.uplift),
        uplift["model"].predict_uplift(batch),
        rtol=0,
        atol=1e-12,
    )


def test_campaign_lists_record_the_targeting_and_the_task_ids(served, uplift, tmp_path):
    config = served["config"]
    config = config.model_copy(
        update={
            "serving": config.serving.model_copy(
                update={
                    "targeting": "uplift",
                    "outbox_url": f"sqlite:///{tmp_path / 'outbox.db'}",
                    "feature_store_url": f"sqlite:///{tmp_path / 'store.db'}",
                }
            )
        }
    )
    result = score_campaign(
        served["bank"],
        uplift["champions"],
        config,
        NOW.date(),
        tmp_path / "lists",
        campaign_id="uplift-2025",
    )
    tasks = pd.read_parquet(tmp_path / "lists" / "tasks.parquet")
    scores = pd.read_parquet(tmp_path / "lists" / "scores.parquet")
    assert len(tasks) and (tasks["targeting"] == "uplift").all()
    assert (tasks["campaign_id"] == "uplift-2025").all()
    expected_ids = [
        task_id("uplift-2025", customer, action, product)
        for customer, action, product in zip(
            tasks["customer_id"], tasks["action"], tasks["product_id"], strict=True
        )
    ]
    assert list(tasks["task_id"]) == expected_ids
    assert tasks["task_id"].is_unique
    retention = tasks[(tasks["action"] == RETENTION_CALLBACK) & ~tasks["exploration"]]
    assert len(retention) and (retention["uplift"] >= config.serving.uplift_min_reduction).all()
    assert set(tasks["group"]) <= {"treatment", "holdout", "owed"}
    assert (tasks.loc[tasks["action"].isin(OWED), "group"] == "owed").all()
    # Every customer scored, once, with the uplift the decision used.
    assert len(scores) == result.customers == len(served["features"])
    assert scores["customer_id"].is_unique
    assert set(scores["customer_id"]) == set(served["features"]["customer_id"].astype(str))
    assert scores["uplift"].notna().all()
    assert result.summary["targeting"] == "uplift"
    assert result.summary["model_versions"][UPLIFT_MODEL] == "1"
