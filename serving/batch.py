"""Batch scoring: every customer of an extract → campaign lists for callers and RMs.

`score_campaign` computes features as of the campaign date with the same definitions as
training, runs the one decision function, sets a random holdout aside (stable per
customer and campaign, never contacted, so the effect can be measured), schedules the
rest into each queue's daily capacity (best expected value first) and writes the lists
atomically.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock
from pathlib import Path

import numpy as np
import pandas as pd

from common.config import RetainConfig
from common.files import write_frame, write_text
from common.names import (
    CALLBACKS_CSV,
    CALLBACKS_PARQUET,
    HOLDOUT,
    OFFERS_CSV,
    SCORES_FILE,
    SUMMARY_FILE,
    TASKS_FILE,
    TREATMENT,
)
from features import pipeline
from features.validation import BankData
from serving.decision import (
    CALLBACKS,
    COMPLAINT_FOLLOW_UP,
    CROSS_SELL_OFFER,
    MARKETING,
    NO_ACTION,
    WELCOME_CALLBACK,
    decide,
)
from serving.models import Champions
from serving.outbox import open_outbox, task_id
from serving.store import open_store

# What score_campaign does, in order (its progress reports these).
STAGES = ("features", "publish", "decisions", "lists", "files", "outbox")


@dataclass
class CampaignResult:
    """What a scoring run wrote, and its counts."""

    campaign_id: str
    out_dir: Path
    customers: int
    summary: dict
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def holdout_mask(customer_ids: pd.Series, campaign_id: str, share: float) -> np.ndarray:
    """Stable random holdout: a hash of (campaign, customer) decides, so re-running a
    campaign gives the same groups and another campaign draws a fresh sample."""

    def draw(customer_id: str) -> float:
        digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    return np.fromiter((draw(c) < share for c in customer_ids), dtype=bool, count=len(customer_ids))


def days_since_last_contact(
    customer_ids: pd.Series, outbox, config: RetainConfig, as_of: date, campaign_id: str
) -> np.ndarray:
    """Days from each customer's last marketing contact by Retain to `as_of` (NaN: none).

    The bank's interactions show the CRM's calls only once they come back in an extract;
    until then the cooldown must also count what Retain itself handed over: tasks of other
    campaigns in the outbox (on their scheduled day; a task planned for later counts as
    today) and contacts the CRM reported (`retain outcomes load`)."""
    from features.outcomes import read_contacts

    day = pd.Timestamp(as_of)
    handed_over = outbox.scheduled(MARKETING, exclude_campaign=campaign_id)
    contacts = read_contacts(config.output_dir)
    contacts = contacts[
        contacts["action"].isin(MARKETING)
        & contacts["contacted_at"].notna()
        & (contacts["campaign_id"] != campaign_id)
    ]
    moments = pd.concat(
        [
            handed_over.rename(columns={"scheduled_for": "at"}),
            contacts[["customer_id", "contacted_at"]].rename(columns={"contacted_at": "at"}),
        ],
        ignore_index=True,
    )
    moments = moments[moments["at"].notna()]
    if moments.empty:
        return np.full(len(customer_ids), np.nan)
    latest = pd.to_datetime(moments["at"]).groupby(moments["customer_id"]).max()
    days = ((day - latest).dt.total_seconds() / 86_400).clip(lower=0)
    return customer_ids.map(days).to_numpy(dtype=float)


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


def schedule(actions: pd.DataFrame, calls_per_day: dict[str, int], days: int, start: date):
    """Place each treatment task on a day of its queue: priority first, then the best
    expected value, `calls_per_day[queue]` a day for `days` days. Tasks that do not fit are
    kept with status `over_capacity`, never dropped."""
    actions = actions.sort_values(
        ["priority", "expected_value"], ascending=[True, False], kind="stable"
    ).copy()
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


def score_campaign(
    bank: BankData,
    champions: Champions,
    config: RetainConfig,
    as_of: date,
    out_dir: Path,
    campaign_id: str | None = None,
    progress: Callable[[str], None] = lambda stage: None,
) -> CampaignResult:
    """Score every customer as of `as_of` and write callbacks, offers and a summary.
    `progress` hears the name of each stage (STAGES) as it starts."""
    timings: dict[str, float] = {}
    campaign_id = campaign_id or f"campaign-{as_of.isoformat()}"
    progress("features")
    started = time.perf_counter()
    features = pipeline.feature_frame(bank, [as_of], config.features)
    timings["features"] = time.perf_counter() - started
    now = datetime.combine(as_of, clock.min)

    outbox = open_outbox(config.outbox_url)
    features["days_since_last_contact"] = days_since_last_contact(
        features["customer_id"], outbox, config, as_of, campaign_id
    )

    progress("publish")
    started = time.perf_counter()
    published = open_store(config.feature_store_url).publish(features)
    timings["publish"] = time.perf_counter() - started

    progress("decisions")
    started = time.perf_counter()
    decisions = decide(features, champions, config.serving, now, reasons_for="actions")
    timings["decisions"] = time.perf_counter() - started

    progress("lists")
    started = time.perf_counter()
    frame = decisions.frame.copy()
    frame["campaign_id"] = campaign_id
    frame["event_at"] = _service_event_at(frame["action"].to_numpy(), features, now)
    holdout_drawn_per = config.serving.programme_id or campaign_id
    frame["group"] = np.where(
        holdout_mask(frame["customer_id"], holdout_drawn_per, config.serving.holdout_share),
        HOLDOUT,
        TREATMENT,
    )
    frame["reasons"] = [
        "; ".join(reason["phrase"] for reason in reasons) for reasons in decisions.reasons
    ]
    frame["offer_reason"] = [
        _offer_reason(products, product_id)
        for products, product_id in zip(decisions.products, frame["product_id"], strict=True)
    ]
    acting = frame[frame["action"] != NO_ACTION]
    treated = schedule(
        acting[acting["group"] == TREATMENT],
        config.serving.calls_per_day,
        config.serving.schedule_days,
        as_of,
    )
    held_out = acting[acting["group"] == HOLDOUT].assign(
        scheduled_for=pd.NaT, status="holdout: not contacted", sla_at_risk=False
    )
    tasks = pd.concat([treated, held_out], ignore_index=True)
    tasks["versions"] = json.dumps(decisions.versions, sort_keys=True)
    tasks["targeting"] = config.serving.targeting
    tasks["assigned_at"] = pd.Timestamp(now)
    tasks["task_id"] = [
        task_id(campaign_id, customer, action, product)
        for customer, action, product in zip(
            tasks["customer_id"], tasks["action"], tasks["product_id"], strict=True
        )
    ]
    callbacks = _ranked(tasks[tasks["action"].isin(CALLBACKS)])
    offers = _ranked(tasks[tasks["action"] == CROSS_SELL_OFFER])
    timings["lists"] = time.perf_counter() - started

    progress("files")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        CALLBACKS_CSV: callbacks[CALLBACK_COLUMNS],
        CALLBACKS_PARQUET: callbacks[CALLBACK_COLUMNS],
        OFFERS_CSV: offers[OFFER_COLUMNS],
        # Every task of both groups, for the CRM's outcomes and the programme evaluation.
        TASKS_FILE: tasks[TASK_COLUMNS],
        # Every customer's scores (no features): calibration in production, targeting.
        SCORES_FILE: frame[SCORE_COLUMNS],
    }
    files = {name: write_frame(rows, out_dir / name) for name, rows in files.items()}
    scheduled = tasks[(tasks["group"] == TREATMENT) & (tasks["status"] == "scheduled")]
    progress("outbox")
    queued = outbox.enqueue(scheduled[HANDOFF_COLUMNS])
    summary = _summary(frame, tasks, decisions, campaign_id, as_of, timings)
    summary["outbox"] = {"url": config.outbox_url, "new_tasks": queued, "scheduled": len(scheduled)}
    summary["holdout_drawn_per"] = (
        f"programme {config.serving.programme_id}"
        if config.serving.programme_id
        else f"campaign {campaign_id}"
    )
    summary["feature_store"] = {"url": config.feature_store_url, "customers": published}
    if len(callbacks):
        summary["example_customer"] = str(callbacks["customer_id"].iat[0])
    files[SUMMARY_FILE] = write_text(
        json.dumps(summary, indent=2, default=str), out_dir / SUMMARY_FILE
    )
    return CampaignResult(campaign_id, out_dir, len(frame), summary, files, timings)


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
]
# What the CRM receives per task: who, what, when, why; no feature values.
HANDOFF_COLUMNS = [
    "campaign_id",
    "customer_id",
    "action",
    "product_id",
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


def _summary(frame, tasks, decisions, campaign_id, as_of, timings) -> dict:
    counts = tasks.groupby(["action", "group"]).size().unstack(fill_value=0)
    return {
        "campaign_id": campaign_id,
        "as_of": as_of.isoformat(),
        "targeting": str(tasks["targeting"].iat[0]) if len(tasks) else None,
        "customers_scored": int(len(frame)),
        "model_versions": decisions.versions,
        "risk_bands": frame["risk_band"].value_counts().to_dict(),
        "actions": {
            action: {group: int(count) for group, count in row.items()}
            for action, row in counts.iterrows()
        },
        "over_capacity": int((tasks["status"] == "over_capacity").sum()),
        "sla_at_risk": int(tasks["sla_at_risk"].sum()),
        "seconds": {name: round(value, 2) for name, value in timings.items()},
    }
