"""The capacity plan `retain score` prints: calls a day per queue against capacity."""

from __future__ import annotations

import pandas as pd

from common.names import HOLDOUT, OWED_GROUP, TREATMENT
from serving.capacity_plan import capacity_plan

AS_OF = pd.Timestamp("2025-03-01")


def tasks(rows: list[tuple[str, str, int, str]]) -> pd.DataFrame:
    """(queue, group, due in days, status) per task."""
    frame = pd.DataFrame(rows, columns=["queue", "group", "due_days", "status"])
    return frame.assign(
        due_at=AS_OF + pd.to_timedelta(frame["due_days"], unit="D"),
        sla_at_risk=False,
    )


def test_owed_calls_due_early_set_the_pace_and_the_holdout_takes_none():
    # Branch: 6 owed calls due within 2 days (3 a day), 4 retention calls due in 5 days, two
    # held out; 5 calls a day for 2 days.
    rows = [("branch", OWED_GROUP, 2, "scheduled")] * 6
    rows += [("branch", TREATMENT, 5, "scheduled")] * 2 + [
        ("branch", TREATMENT, 5, "over_capacity")
    ] * 2
    rows += [("branch", HOLDOUT, 5, "holdout: not contacted")] * 2
    (branch,) = capacity_plan(tasks(rows), {"branch": 5}, schedule_days=2, as_of=AS_OF)
    assert (branch["tasks"], branch["owed"]) == (10, 6)
    assert branch["per_day_for_owed_on_time"] == 3
    assert branch["per_day_for_all_on_time"] == 3  # 6 in 2 days is steeper than 10 in 5
    assert branch["per_day_for_all_in_schedule"] == 5
    assert branch["over_capacity"] == 2 and branch["owed_over_capacity"] == 0
    assert "2 tasks do not fit" in branch["verdict"]


def test_owed_calls_that_cannot_be_on_time_say_how_many_more_calls_a_day():
    rows = [("phone", OWED_GROUP, 1, "scheduled")] * 7 + [
        ("phone", OWED_GROUP, 1, "over_capacity")
    ] * 3
    rows += [("app", TREATMENT, 3, "scheduled")]
    app, phone = capacity_plan(tasks(rows), {"phone": 7}, schedule_days=5, as_of=AS_OF)
    assert phone["per_day_for_owed_on_time"] == 10
    assert phone["verdict"] == "owed calls need 10 a day to be on time: add 3 calls a day"
    assert phone["owed_over_capacity"] == 3
    assert app["calls_per_day"] is None and app["verdict"].startswith("no capacity set")


def test_owed_calls_are_scheduled_by_deadline_so_the_plan_and_the_schedule_agree():
    """One call a day, two owed calls: the one due tomorrow goes first whatever its value,
    and the plan says so; a task the schedule still places late is not called on time."""
    from datetime import date

    from common.names import WELCOME_CALLBACK
    from serving.campaign_lists import schedule

    owed = pd.DataFrame(
        {
            "customer_id": ["later", "soon"],
            "action": WELCOME_CALLBACK,
            "queue": "phone",
            "priority": 1,
            "expected_value": [100.0, 1.0],
            "due_at": [AS_OF + pd.Timedelta(days=3), AS_OF + pd.Timedelta(hours=20)],
            "group": OWED_GROUP,
        }
    )
    placed = schedule(owed, {"phone": 1}, 5, date(2025, 3, 1)).set_index("customer_id")
    assert placed.loc["soon", "scheduled_for"] < placed.loc["later", "scheduled_for"]
    assert not placed["sla_at_risk"].any()
    (phone,) = capacity_plan(placed.reset_index(), {"phone": 1}, 5, AS_OF)
    assert phone["verdict"] == "fits, every task on time"
    late = placed.reset_index().assign(sla_at_risk=[True, False])
    (phone,) = capacity_plan(late, {"phone": 1}, 5, AS_OF)
    assert phone["verdict"] == "fits; 1 tasks after their due time"
