"""How many calls a day do the plans' standards need? Said before a list goes out.

Every task has a due time (owed calls: the plans' days after the event; retention and
marketing calls: their tier's `due_hours`). Per queue, the calls a day needed to make every
owed call by its due time is the steepest run of deadlines: the largest, over every day k
from the campaign day, of (owed calls due within k days) / k. The same over every task is
what calling everyone on time takes, and every task over `serving.schedule_days` is what
the list needs to be worked at all. Set against `serving.calls_per_day`, a call-centre
manager sees which queue needs more callers, how many, and what is dropped without them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from common.names import CONTACTED_GROUPS, OWED_GROUP


def capacity_plan(
    tasks: pd.DataFrame, calls_per_day: dict[str, int], schedule_days: int, as_of
) -> list[dict]:
    """Per queue of the tasks handed to callers (treatment and owed): their counts, the
    calls a day needed for owed calls on time, for every task on time and for every task
    within the schedule, the capacity, and what did not fit (JSON-ready rows)."""
    made = tasks[tasks["group"].isin(CONTACTED_GROUPS)]
    start = pd.Timestamp(as_of)
    rows = []
    for queue, part in made.groupby("queue", sort=True):
        owed = part["group"] == OWED_GROUP
        capacity = calls_per_day.get(queue)
        capacity = None if capacity is None else int(capacity)
        row = {
            "queue": queue,
            "tasks": int(len(part)),
            "owed": int(owed.sum()),
            "per_day_for_owed_on_time": _steepest(part.loc[owed, "due_at"], start),
            "per_day_for_all_on_time": _steepest(part["due_at"], start),
            "per_day_for_all_in_schedule": math.ceil(len(part) / schedule_days),
            "calls_per_day": capacity,
            "over_capacity": int((part["status"] == "over_capacity").sum()),
            "owed_over_capacity": int((owed & (part["status"] == "over_capacity")).sum()),
            "late": int(part["sla_at_risk"].sum()),
        }
        row["verdict"] = _verdict(row)
        rows.append(row)
    return rows


def _steepest(due_at: pd.Series, start: pd.Timestamp) -> int:
    """max over k of (tasks due within k days) / k, rounded up; 0 without tasks."""
    if due_at.empty:
        return 0
    seconds = (pd.to_datetime(due_at) - start).dt.total_seconds().to_numpy()
    days = np.maximum(1, np.ceil(seconds / 86_400)).astype(int)  # due today counts as day 1
    counts = np.bincount(days)
    cumulative = np.cumsum(counts)[1:]
    return int(math.ceil(float(np.max(cumulative / np.arange(1, len(cumulative) + 1)))))


def _verdict(row: dict) -> str:
    capacity = row["calls_per_day"]
    if capacity is None:
        return "no capacity set: every task is scheduled"
    if row["per_day_for_owed_on_time"] > capacity:
        return (
            f"owed calls need {row['per_day_for_owed_on_time']:,} a day to be on time: "
            f"add {row['per_day_for_owed_on_time'] - capacity:,} calls a day"
        )
    if row["over_capacity"]:
        return (
            f"{row['over_capacity']:,} tasks do not fit: "
            f"{row['per_day_for_all_in_schedule'] - capacity:,} more calls a day would make all"
        )
    if row["late"]:
        return f"fits; {row['late']:,} tasks after their due time"
    return "fits, every task on time"
