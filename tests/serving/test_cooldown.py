"""The contact cooldown counts Retain's own recent tasks, not only the bank's interactions:
a campaign the day after another must not call the same customers again."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from serving.batch import TREATMENT, score_campaign
from serving.decision import MARKETING

NOW = datetime(2025, 1, 1)  # the `served` fixture's scoring day


def _config(served, tmp_path):
    return served["config"].model_copy(update={"output_dir": tmp_path / "outputs"})


def test_next_day_campaign_holds_back_customers_handed_over_yesterday(served, tmp_path):
    config = _config(served, tmp_path)
    first = score_campaign(
        served["bank"], served["champions"], config, NOW.date(), tmp_path / "a", "monday"
    )
    tasks = pd.read_parquet(first.files["tasks.parquet"])
    handed_over = set(
        tasks.loc[
            (tasks["group"] == TREATMENT)
            & (tasks["status"] == "scheduled")
            & tasks["action"].isin(MARKETING),
            "customer_id",
        ]
    )
    assert handed_over
    # Service calls carry the event they follow (the report measures the delay from it).
    owed = tasks["action"].isin(["complaint_follow_up", "welcome_callback"])
    assert owed.any()
    since_event = tasks.loc[owed, "assigned_at"] - tasks.loc[owed, "event_at"]
    assert since_event.between(pd.Timedelta(0), pd.Timedelta(days=7)).all()
    assert tasks.loc[~owed, "event_at"].isna().all()
    # Re-scoring the same campaign is not held back by its own tasks.
    rerun = score_campaign(
        served["bank"], served["champions"], config, NOW.date(), tmp_path / "c", "monday"
    )
    assert pd.read_parquet(rerun.files["tasks.parquet"])["task_id"].equals(tasks["task_id"])
    second = score_campaign(
        served["bank"],
        served["champions"],
        config,
        NOW.date() + timedelta(days=1),
        tmp_path / "b",
        "tuesday",
    )
    again = pd.read_parquet(second.files["tasks.parquet"])
    marketed_again = set(again.loc[again["action"].isin(MARKETING), "customer_id"])
    assert not (handed_over & marketed_again)
    assert marketed_again  # the others are still offered and called: not a blanket stop
    scores = pd.read_parquet(second.files["scores.parquet"])
    held = scores[scores["customer_id"].isin(handed_over)]
    assert (held["action"].isin(MARKETING)).sum() == 0


def test_contacts_reported_by_the_crm_count_for_the_cooldown(served, tmp_path):
    from features.outcomes import outcomes_file
    from features.schema import CAMPAIGN_CONTACTS

    config = _config(served, tmp_path)
    baseline = score_campaign(
        served["bank"], served["champions"], config, NOW.date(), tmp_path / "a", "base"
    )
    tasks = pd.read_parquet(baseline.files["tasks.parquet"])
    offered = tasks[(tasks["action"] == "cross_sell_offer")].head(5)
    assert len(offered) == 5
    # Start from an empty outbox: only the CRM's report may hold these customers back.
    (tmp_path / "outputs" / "outbox.db").unlink()
    contacts = pd.DataFrame(
        {
            "campaign_id": "earlier",
            "task_id": [f"t{i}" for i in range(5)],
            "customer_id": offered["customer_id"].to_numpy(),
            "group": "treatment",
            "action": "cross_sell_offer",
            "product_id": None,
            "assigned_at": pd.Timestamp(NOW) - pd.Timedelta(days=12),
            "due_at": pd.NaT,
            "contacted_at": pd.Timestamp(NOW) - pd.Timedelta(days=10),
            "channel": "email",
            "outcome": "declined",
            "satisfaction": pd.array([None] * 5, dtype="Int64"),
            "notes": None,
        }
    )[list(CAMPAIGN_CONTACTS.column_names)]
    outcomes_file(config.output_dir).parent.mkdir(parents=True)
    contacts.to_parquet(outcomes_file(config.output_dir))
    later = score_campaign(
        served["bank"], served["champions"], config, NOW.date(), tmp_path / "b", "later"
    )
    scores = pd.read_parquet(later.files["scores.parquet"]).set_index("customer_id")
    assert not scores.loc[offered["customer_id"], "action"].isin(MARKETING).any()
