"""The decision function and campaign lists, on champions trained on a small synthetic bank."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from banks import steady_customers

from common.config import load_config, with_overrides
from common.errors import RetainError
from common.names import OWED, OWED_GROUP
from features.definitions import held_column
from serving.batch import HOLDOUT, STAGES, TREATMENT, holdout_mask, schedule, score_campaign
from serving.decision import (
    COMPLAINT_FOLLOW_UP,
    NO_ACTION,
    RETENTION_CALLBACK,
    WIN_BACK_CALL,
    decide,
)
from serving.models import load_champions

pytestmark = [pytest.mark.slow, pytest.mark.integration]
NOW = datetime(2025, 1, 1)


steady = steady_customers


def test_one_decision_per_customer_with_calibrated_scores(served):
    decisions = decide(served["features"], served["champions"], served["config"].serving, NOW)
    frame = decisions.frame
    assert len(frame) == len(served["features"])
    assert frame["churn_probability"].between(0, 1).all()
    edges = served["config"].serving.risk_band_edges
    assert (frame.loc[frame["churn_probability"] < edges[0], "risk_band"] == "low").all()
    assert (frame.loc[frame["churn_probability"] >= edges[2], "risk_band"] == "very high").all()
    assert decisions.versions == {"retain-churn": "1", "retain-xsell": "1"}
    acting = frame["action"] != NO_ACTION
    assert acting.any() and (~acting).any()
    # Reasons only where there is an action (batch default), each a readable phrase.
    for i in np.flatnonzero(acting.to_numpy())[:20]:
        assert 0 < len(decisions.reasons[i]) <= 5
        assert all(r["contribution"] > 0 and r["phrase"] for r in decisions.reasons[i])


def test_high_risk_gets_a_retention_callback_routed_by_tier(served):
    customers = steady(served["features"])
    customers["tier"] = ["core"] * 10 + ["general"] * (len(customers) - 10)
    customers["preferred_channel"] = "email"
    config = served["config"].serving
    tiers = {
        name: policy.model_copy(update={"churn_threshold": 0.0})
        for name, policy in config.tiers.items()
    }
    decisions = decide(
        customers, served["champions"], config.model_copy(update={"tiers": tiers}), NOW
    )
    frame = decisions.frame
    assert (frame["action"] == RETENTION_CALLBACK).all()
    core, general = frame.iloc[:10], frame.iloc[10:]
    assert (core["queue"] == "relationship_manager").all()
    assert (core["due_at"] == pd.Timestamp(NOW + timedelta(hours=24))).all()
    assert (core["priority"] == 1).all()
    # General customers go through their preferred channel.
    assert (general["channel"] == "email").all() and (general["assignee"] == "digital").all()
    assert np.allclose(
        frame["expected_value"], frame["churn_probability"] * frame["customer_value"]
    )


def test_do_not_contact_and_cooldown_hold_back_contacts(served):
    customers = steady(served["features"], 20)
    config = served["config"].serving
    tiers = {n: p.model_copy(update={"churn_threshold": 0.0}) for n, p in config.tiers.items()}
    config = config.model_copy(update={"tiers": tiers})
    blocked = customers.assign(do_not_contact=1.0)
    assert (decide(blocked, served["champions"], config, NOW).frame["action"] == NO_ACTION).all()
    called = customers.assign(days_since_last_callback=5.0)
    frame = decide(called, served["champions"], config, NOW).frame
    assert (frame["action"] == NO_ACTION).all()
    assert frame["why"].str.contains("cooldown").all()


def test_resolved_complaint_gets_a_follow_up_within_seven_days(served):
    customers = steady(served["features"], 10).assign(
        days_since_complaint_resolved=3.0, days_since_last_callback=40.0
    )
    frame = decide(customers, served["champions"], served["config"].serving, NOW).frame
    assert (frame["action"] == COMPLAINT_FOLLOW_UP).all()
    assert (frame["due_at"] <= pd.Timestamp(NOW + timedelta(days=4))).all()
    # Already called back after the resolution: nothing owed.
    done = customers.assign(days_since_last_callback=1.0)
    frame = decide(done, served["champions"], served["config"].serving, NOW).frame
    assert not (frame["action"] == COMPLAINT_FOLLOW_UP).any()


def test_recently_churned_valuable_customer_gets_a_win_back_call(served):
    customers = steady(served["features"], 5).assign(
        tier="churned", days_since_last_product_closed=30.0, customer_value=50_000.0
    )
    frame = decide(customers, served["champions"], served["config"].serving, NOW).frame
    assert (frame["action"] == WIN_BACK_CALL).all()
    poor = customers.assign(customer_value=10.0)
    frame = decide(poor, served["champions"], served["config"].serving, NOW).frame
    assert not (frame["action"] == WIN_BACK_CALL).any()


def test_products_offered_are_eligible_never_held_never_too_risky(served):
    customers = served["features"].head(300).copy()
    customers["risk_appetite"] = 2.0
    decisions = decide(
        customers, served["champions"], served["config"].serving, NOW, reasons_for="all"
    )
    catalogue = served["champions"].catalogue
    listed = 0
    for i, products in enumerate(decisions.products):
        row = customers.iloc[i]
        for item in products:
            listed += 1
            assert row[held_column(item["product_id"])] == 0, "a held product was offered"
            assert catalogue.loc[item["product_id"], "risk_level"] <= 2
            assert row["age_years"] >= catalogue.loc[item["product_id"], "min_age"]
            assert item["reason"] and "aged" not in item["reason"]  # age is no reason
            assert item["name"] == catalogue.loc[item["product_id"], "name"]
        values = [item["expected_value"] for item in products]
        assert values == sorted(values, reverse=True)
    assert listed > 100
    offers = decisions.frame[decisions.frame["action"] == "cross_sell_offer"]
    assert len(offers) > 0
    names = catalogue.loc[offers["product_id"], "name"].to_numpy()
    assert (offers["product_name"].to_numpy() == names).all()
    pairs = zip(names, offers["product_id"], offers["why"], strict=True)
    assert all(f"{name} ({product})" in why for name, product, why in pairs)


def test_campaign_lists_are_complete_stable_and_hold_out_a_control_group(served, tmp_path):
    config = served["config"]
    stages = []
    first = score_campaign(
        served["bank"],
        served["champions"],
        config,
        NOW.date(),
        tmp_path / "a",
        progress=stages.append,
    )
    assert tuple(stages) == STAGES
    again = score_campaign(served["bank"], served["champions"], config, NOW.date(), tmp_path / "b")
    callbacks = pd.read_parquet(first.files["callbacks.parquet"])
    assert callbacks.equals(pd.read_parquet(again.files["callbacks.parquet"]))
    assert set(callbacks["group"]) <= {TREATMENT, HOLDOUT, OWED_GROUP}
    owed = callbacks["action"].isin(OWED)
    assert (callbacks.loc[owed, "group"] == OWED_GROUP).all()  # never held out
    assert (
        callbacks.loc[callbacks["group"] == HOLDOUT, "status"] == "holdout: not contacted"
    ).all()
    offers = pd.read_csv(first.files["offers.csv"])
    assert offers["product_id"].notna().all() and (offers["expected_value"] >= 25).all()
    # Every customer with an action is in exactly one list.
    acting = sum(sum(groups.values()) for groups in first.summary["actions"].values())
    assert acting == len(callbacks) + len(offers)
    assert not (tmp_path / "a" / ".callbacks.csv.partial").exists()
    # Scheduled treatment tasks went to the outbox once; the re-run added none.
    assert first.summary["outbox"]["new_tasks"] == first.summary["outbox"]["scheduled"] > 0
    assert again.summary["outbox"]["new_tasks"] == 0
    # The capacity plan covers every queue handed to callers and counts what did not fit.
    plan = first.summary["capacity_plan"]
    assert sum(row["over_capacity"] for row in plan) == first.summary["over_capacity"]
    assert sum(row["tasks"] for row in plan) == int((callbacks["group"] != HOLDOUT).sum()) + int(
        (offers["group"] != HOLDOUT).sum()
    )


def test_holdout_is_stable_per_campaign_and_near_the_configured_share():
    ids = pd.Series([f"C{i:06d}" for i in range(20_000)])
    first = holdout_mask(ids, "spring", 0.1)
    assert np.array_equal(first, holdout_mask(ids, "spring", 0.1))
    assert abs(first.mean() - 0.1) < 0.01
    other = holdout_mask(ids, "autumn", 0.1)
    assert (first != other).mean() > 0.1


def test_capacity_keeps_the_best_expected_value_and_drops_nothing():
    tasks = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(10)],
            "queue": ["phone"] * 10,
            "priority": [2] * 10,
            "expected_value": np.arange(10, dtype=float),
            "due_at": [pd.Timestamp("2025-01-03")] * 10,
        }
    )
    placed = schedule(tasks, {"phone": 3}, days=2, start=date(2025, 1, 1))
    assert len(placed) == 10
    scheduled = placed[placed["status"] == "scheduled"]
    assert sorted(scheduled["expected_value"]) == [4, 5, 6, 7, 8, 9]
    assert (placed[placed["status"] == "over_capacity"]["expected_value"] < 4).all()
    first_day = scheduled[scheduled["scheduled_for"] == pd.Timestamp("2025-01-01")]
    assert sorted(first_day["expected_value"]) == [7, 8, 9]


def test_serving_refuses_to_start_without_a_champion(tmp_path):
    config = with_overrides(load_config(), "training", tracking_uri=f"sqlite:///{tmp_path}/m.db")
    with pytest.raises(RetainError, match="no champion of retain-churn"):
        load_champions(config)


def test_feature_store_round_trip_gives_the_batch_decision(served, tmp_path):
    from serving.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    batch = served["features"].head(200)
    assert store.publish(batch) == 200
    wanted = [*batch["customer_id"].iloc[[5, 0, 17]], "C-UNKNOWN"]
    looked_up, missing = store.lookup(wanted)
    assert missing == ["C-UNKNOWN"]
    assert list(looked_up.column("customer_id")) == wanted[:3]
    # The store's dicts are encoded for the model exactly as the model encodes a frame.
    churn = served["champions"].churn
    np.testing.assert_array_equal(
        looked_up.matrix(churn), churn.schema.matrix(batch.iloc[[5, 0, 17]])
    )
    config = served["config"].serving
    direct = decide(batch.iloc[[5, 0, 17]], served["champions"], config, NOW, reasons_for="all")
    stored = decide(looked_up, served["champions"], config, NOW, reasons_for="all")
    pd.testing.assert_frame_equal(stored.frame, direct.frame)
    assert stored.reasons == direct.reasons and stored.products == direct.products
    # A second publish replaces the set.
    store.publish(batch.head(10))
    assert store.count() == 10


def test_score_scope_gives_the_same_churn_part_without_products_or_action(served):
    customers = served["features"].head(30)
    config = served["config"].serving
    full = decide(customers, served["champions"], config, NOW, reasons_for="all")
    scored = decide(customers, served["champions"], config, NOW, reasons_for="all", scope="score")
    np.testing.assert_array_equal(
        scored.frame["churn_probability"], full.frame["churn_probability"]
    )
    assert list(scored.frame["risk_band"]) == list(full.frame["risk_band"])
    assert scored.reasons == full.reasons
    assert (scored.frame["action"] == "").all() and scored.products == [[]] * 30
