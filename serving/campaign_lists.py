"""A campaign's lists from its decisions: the random holdout, each queue's schedule, the
ranked callback and offer lists, and the columns each file of a campaign folder carries.

Pure: frames in, frames out; `serving.batch` writes them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from common.config import ServingConfig
from common.names import (
    CALLBACKS_CSV,
    CALLBACKS_PARQUET,
    CONTACTED_GROUPS,
    HOLDOUT,
    OFFERS_CSV,
    OWED,
    OWED_GROUP,
    SCORES_FILE,
    TASKS_FILE,
    TREATMENT,
)
from serving.actions import (
    CALLBACKS,
    COMPLAINT_FOLLOW_UP,
    CROSS_SELL_OFFER,
    NO_ACTION,
    WELCOME_CALLBACK,
)
from serving.decision import Decisions
from serving.outbox import task_id


@dataclass(frozen=True)
class CampaignLists:
    """A campaign's lists. `scores`: every customer with group and action; `tasks`: every
    action of every group; `callbacks` and `offers`: the tasks of every group ranked;
    `handoff`: what goes to the CRM (the scheduled tasks of the treatment and the calls
    customers are owed, group `owed`, which are never held out)."""

    scores: pd.DataFrame
    tasks: pd.DataFrame
    callbacks: pd.DataFrame
    offers: pd.DataFrame
    handoff: pd.DataFrame

    def files(self) -> dict[str, pd.DataFrame]:
        """The campaign folder's lists by file name, each with its declared columns."""
        return {
            CALLBACKS_CSV: self.callbacks[CALLBACK_COLUMNS],
            CALLBACKS_PARQUET: self.callbacks[CALLBACK_COLUMNS],
            OFFERS_CSV: self.offers[OFFER_COLUMNS],
            # Every task of both groups, for the CRM's outcomes and the programme evaluation.
            TASKS_FILE: self.tasks[TASK_COLUMNS],
            # Every customer's scores (no features): calibration in production, targeting.
            SCORES_FILE: self.scores[SCORE_COLUMNS],
        }


def campaign_lists(
    decisions: Decisions,
    features: pd.DataFrame,
    config: ServingConfig,
    campaign_id: str,
    as_of: date,
    now: datetime,
) -> CampaignLists:
    """Groups, schedule and ranks of a campaign's decisions.

    Args:
        decisions: `decide`'s answer for every customer of `features`.
        features: the feature frame decided on (for the service events' dates).
        config: holdout share and programme, daily capacity, schedule length, targeting.
        campaign_id: names the tasks and, without a programme, seeds the holdout.
        as_of: the campaign's first day.
        now: when the tasks are assigned.
    """
    scores = _scores(decisions, features, config, campaign_id, now)
    tasks = _tasks(scores, decisions, config, campaign_id, as_of, now)
    return CampaignLists(
        scores=scores,
        tasks=tasks,
        callbacks=_ranked(tasks[tasks["action"].isin(CALLBACKS)]),
        offers=_ranked(tasks[tasks["action"] == CROSS_SELL_OFFER]),
        handoff=tasks[tasks["group"].isin(CONTACTED_GROUPS) & (tasks["status"] == "scheduled")][
            HANDOFF_COLUMNS
        ],
    )


def _scores(
    decisions: Decisions,
    features: pd.DataFrame,
    config: ServingConfig,
    campaign_id: str,
    now: datetime,
) -> pd.DataFrame:
    """Every customer's decision with its campaign, group, service event and reasons as
    text."""
    frame = decisions.frame.copy()
    frame["campaign_id"] = campaign_id
    if "exploration" not in frame:  # decided without an exploration slice
        frame["exploration"] = False
        frame["assignment_probability"] = np.where(frame["action"] == NO_ACTION, 0.0, 1.0)
    frame["event_at"] = _service_event_at(frame["action"].to_numpy(), features, now)
    holdout_drawn_per = config.programme_id or campaign_id
    drawn = holdout_mask(frame["customer_id"], holdout_drawn_per, config.holdout_share)
    # A call the customer is owed is never held out: outside the experiment, always made.
    frame["group"] = np.where(
        frame["action"].isin(OWED), OWED_GROUP, np.where(drawn, HOLDOUT, TREATMENT)
    )
    frame["reasons"] = [
        "; ".join(reason["phrase"] for reason in reasons) for reasons in decisions.reasons
    ]
    frame["offer_reason"] = [
        _offer_reason(products, product_id)
        for products, product_id in zip(decisions.products, frame["product_id"], strict=True)
    ]
    return frame


def _tasks(
    scores: pd.DataFrame,
    decisions: Decisions,
    config: ServingConfig,
    campaign_id: str,
    as_of: date,
    now: datetime,
) -> pd.DataFrame:
    """One task per action: the treatment's and the owed calls scheduled into their
    queue's capacity (priority first, so owed calls before marketing), the holdout's kept
    as not contacted."""
    acting = scores[scores["action"] != NO_ACTION]
    made = acting["group"].isin(CONTACTED_GROUPS)
    treated = schedule(acting[made], config.calls_per_day, config.schedule_days, as_of)
    held_out = acting[acting["group"] == HOLDOUT].assign(
        scheduled_for=pd.NaT, status="holdout: not contacted", sla_at_risk=False
    )
    tasks = pd.concat([treated, held_out], ignore_index=True)
    tasks["versions"] = json.dumps(decisions.versions, sort_keys=True)
    tasks["targeting"] = config.targeting
    tasks["assigned_at"] = pd.Timestamp(now)
    tasks["task_id"] = [
        task_id(campaign_id, customer, action, product)
        for customer, action, product in zip(
            tasks["customer_id"], tasks["action"], tasks["product_id"], strict=True
        )
    ]
    return tasks


def holdout_mask(customer_ids: pd.Series, campaign_id: str, share: float) -> np.ndarray:
    """Stable random holdout: a hash of (campaign, customer) decides, so re-running a
    campaign gives the same groups and another campaign draws a fresh sample."""

    def draw(customer_id: str) -> float:
        digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    return np.fromiter((draw(c) < share for c in customer_ids), dtype=bool, count=len(customer_ids))


def schedule(actions: pd.DataFrame, calls_per_day: dict[str, int], days: int, start: date):
    """Place each treatment task on a day of its queue: calls customers are owed first,
    earliest due first (never pushed out by marketing or an experiment), then priority,
    then the exploration slice (its share of capacity is its own, whatever the models think
    of its customers), then the best expected value, `calls_per_day[queue]` a day for
    `days` days. Tasks that do not fit are kept with status `over_capacity`, never
    dropped."""
    owed = (
        actions["action"].isin(OWED)
        if "action" in actions
        else pd.Series(False, index=actions.index)
    )
    actions = actions.assign(
        _not_owed=~owed,
        # Owed calls by deadline: the earliest due is made first.
        _owed_due=pd.to_datetime(actions["due_at"]).where(owed, pd.Timestamp.max),
        _targeted=~actions.get("exploration", pd.Series(False, index=actions.index)).astype(bool),
    )
    actions = actions.sort_values(
        ["_not_owed", "_owed_due", "priority", "_targeted", "expected_value"],
        ascending=[True, True, True, True, False],
        kind="stable",
    ).drop(columns=["_not_owed", "_owed_due", "_targeted"])
    actions["queue_rank"] = actions.groupby("queue").cumcount()
    capacity = actions["queue"].map(calls_per_day).fillna(np.inf).to_numpy()
    day = np.floor(actions["queue_rank"].to_numpy() / capacity)
    fits = day < days
    actions["scheduled_for"] = [
        pd.Timestamp(start) + pd.Timedelta(days=int(d)) if ok else pd.NaT
        for d, ok in zip(day, fits, strict=True)
    ]
    actions["status"] = np.where(fits, "scheduled", "over_capacity")
    actions["sla_at_risk"] = fits & (actions["scheduled_for"] > actions["due_at"])
    return actions.drop(columns="queue_rank")


def _service_event_at(actions: np.ndarray, features: pd.DataFrame, now: datetime) -> pd.Series:
    """When the event that makes a service call due happened (a complaint resolved, an
    account opened): the programme report measures the call's delay from it."""
    days_ago = np.select(
        [actions == COMPLAINT_FOLLOW_UP, actions == WELCOME_CALLBACK],
        [
            pd.to_numeric(features["days_since_complaint_resolved"], errors="coerce"),
            pd.to_numeric(features["product_tenure_days"], errors="coerce"),
        ],
        default=np.nan,
    )
    return pd.Timestamp(now) - pd.to_timedelta(days_ago, unit="D")


def _offer_reason(products: list[dict], product_id: str) -> str:
    for item in products:
        if item["product_id"] == product_id:
            return item.get("reason", "")
    return ""


def _ranked(tasks: pd.DataFrame) -> pd.DataFrame:
    """Priority, then expected value, best first; rank 1 is the first call to make."""
    ordered = tasks.sort_values(
        ["group", "priority", "expected_value", "customer_id"],
        ascending=[False, True, False, True],
        kind="stable",
    ).reset_index(drop=True)
    ordered.insert(0, "rank", np.arange(1, len(ordered) + 1))
    return ordered


SCORE_COLUMNS = [
    "campaign_id",
    "customer_id",
    "group",
    "action",
    "churn_probability",
    "uplift",
    "risk_band",
    "tier",
    "customer_value",
    "exploration",
    "assignment_probability",
]
TASK_COLUMNS = [
    "campaign_id",
    "task_id",
    "customer_id",
    "group",
    "status",
    "action",
    "product_id",
    "priority",
    "expected_value",
    "churn_probability",
    "uplift",
    "risk_band",
    "tier",
    "customer_value",
    "channel",
    "queue",
    "assignee",
    "assigned_at",
    "event_at",
    "due_at",
    "scheduled_for",
    "sla_at_risk",
    "targeting",
    "versions",
    "exploration",
    "assignment_probability",
]
CALLBACK_COLUMNS = [
    "campaign_id",
    "rank",
    "customer_id",
    "group",
    "status",
    "action",
    "priority",
    "expected_value",
    "churn_probability",
    "uplift",
    "risk_band",
    "tier",
    "customer_value",
    "channel",
    "queue",
    "assignee",
    "due_at",
    "scheduled_for",
    "sla_at_risk",
    "why",
    "reasons",
    "targeting",
    "versions",
    "exploration",
]
# What the CRM receives per task: who, what, when, why; no feature values.
HANDOFF_COLUMNS = [
    "campaign_id",
    "customer_id",
    "action",
    "product_id",
    "product_name",
    "priority",
    "expected_value",
    "churn_probability",
    "risk_band",
    "tier",
    "channel",
    "queue",
    "assignee",
    "due_at",
    "scheduled_for",
    "why",
    "reasons",
    "offer_reason",
    "versions",
]
OFFER_COLUMNS = [
    "campaign_id",
    "rank",
    "customer_id",
    "group",
    "status",
    "product_id",
    "product_name",
    "expected_value",
    "priority",
    "tier",
    "channel",
    "queue",
    "assignee",
    "due_at",
    "scheduled_for",
    "why",
    "offer_reason",
    "versions",
]
