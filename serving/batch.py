"""Batch scoring: every customer of an extract → campaign lists for callers and RMs.

`score_campaign` runs its stages in order (`STAGES`): features as of the campaign date with
the same definitions as training; publish them to the online store; the one decision
function; the lists (a random holdout, stable per customer and campaign, never contacted,
so the effect can be measured; the rest scheduled into each queue's daily capacity, best
expected value first, `serving.campaign_lists`); the files, written atomically; and the
outbox the CRM is fed from.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.config import RetainConfig
from common.dates import start_of
from common.files import write_frame, write_text
from common.names import HOLDOUT, RETENTION_CALLBACK, SUMMARY_FILE, TREATMENT
from features import pipeline
from features.validation import BankData
from serving.actions import MARKETING
from serving.campaign_lists import (
    CALLBACK_COLUMNS,
    HANDOFF_COLUMNS,
    OFFER_COLUMNS,
    SCORE_COLUMNS,
    TASK_COLUMNS,
    CampaignLists,
    campaign_lists,
    holdout_mask,
    schedule,
)
from serving.capacity_plan import capacity_plan
from serving.decision import Decisions, decide
from serving.detectability import detectability
from serving.exploration import Exploration
from serving.models import Champions
from serving.outbox import Outbox, open_outbox
from serving.store import open_store

__all__ = [  # the lists' names are read from here too (tests, the programme evaluation's)
    "CALLBACK_COLUMNS",
    "HANDOFF_COLUMNS",
    "HOLDOUT",
    "OFFER_COLUMNS",
    "SCORE_COLUMNS",
    "STAGES",
    "TASK_COLUMNS",
    "TREATMENT",
    "CampaignResult",
    "days_since_last_contact",
    "holdout_mask",
    "schedule",
    "score_campaign",
]

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


class StageClock:
    """Runs a batch's stages: tells `progress` each one's name as it starts and keeps the
    wall time of the timed ones in `seconds`."""

    def __init__(self, progress: Callable[[str], None]) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}

    def run(self, name: str, step: Callable[..., Any], *args, timed: bool = True, **kwargs):
        """`step(*args, **kwargs)` as stage `name`; returns what the step returns."""
        self.progress(name)
        started = time.perf_counter()
        result = step(*args, **kwargs)
        if timed:
            self.seconds[name] = time.perf_counter() - started
        return result


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
    campaign_id = campaign_id or f"campaign-{as_of.isoformat()}"
    now = start_of(as_of)
    outbox = open_outbox(config.outbox_url)
    stages = StageClock(progress)
    features = stages.run("features", campaign_features, bank, config, as_of, outbox, campaign_id)
    published = stages.run("publish", publish, features, config.feature_store_url)
    share = config.serving.exploration_share
    decisions = stages.run(
        "decisions",
        decide,
        features,
        champions,
        config.serving,
        now,
        reasons_for="actions",
        exploration=(
            Exploration(share, campaign_id, config.serving.holdout_share) if share > 0 else None
        ),
    )
    lists = stages.run(
        "lists", campaign_lists, decisions, features, config.serving, campaign_id, as_of, now
    )
    # The summary's `seconds` keep the stages they have always reported (bench/batch.py
    # and docs/benchmarks.md read them): writing files and handing over are not timed.
    files = stages.run("files", write_lists, lists, out_dir, timed=False)
    queued = stages.run("outbox", outbox.enqueue, lists.handoff, timed=False)
    summary = campaign_summary(
        lists, decisions, config, campaign_id, as_of, stages.seconds, queued, published
    )
    files[SUMMARY_FILE] = write_text(
        json.dumps(summary, indent=2, default=str), out_dir / SUMMARY_FILE
    )
    return CampaignResult(campaign_id, out_dir, len(lists.scores), summary, files, stages.seconds)


def campaign_features(
    bank: BankData, config: RetainConfig, as_of: date, outbox: Outbox, campaign_id: str
) -> pd.DataFrame:
    """Every customer's features as of the campaign date (the training definitions), and
    the days since Retain's own last marketing contact (`days_since_last_contact`)."""
    features = pipeline.feature_frame(bank, [as_of], config.features)
    features["days_since_last_contact"] = days_since_last_contact(
        features["customer_id"], outbox, config, as_of, campaign_id
    )
    return features


def publish(features: pd.DataFrame, store_url: str) -> int:
    """The campaign's features become the online store's (the API reads them); returns the
    number of customers published."""
    return open_store(store_url).publish(features)


def write_lists(lists: CampaignLists, out_dir: Path) -> dict[str, Path]:
    """Each list to its file in `out_dir`, atomically; returns the paths by file name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return {name: write_frame(rows, out_dir / name) for name, rows in lists.files().items()}


def days_since_last_contact(
    customer_ids: pd.Series, outbox: Outbox, config: RetainConfig, as_of: date, campaign_id: str
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


def campaign_summary(
    lists: CampaignLists,
    decisions: Decisions,
    config: RetainConfig,
    campaign_id: str,
    as_of: date,
    seconds: dict[str, float],
    queued: int,
    published: int,
) -> dict:
    """The run in figures (`summary.json`): counts per action and group, capacity and SLA,
    stage times, the outbox and the online store it fed."""
    scores, tasks = lists.scores, lists.tasks
    counts = tasks.groupby(["action", "group"]).size().unstack(fill_value=0)
    summary = {
        "campaign_id": campaign_id,
        "as_of": as_of.isoformat(),
        "targeting": str(tasks["targeting"].iat[0]) if len(tasks) else None,
        "customers_scored": int(len(scores)),
        "model_versions": decisions.versions,
        "risk_bands": scores["risk_band"].value_counts().to_dict(),
        "actions": {
            action: {group: int(count) for group, count in row.items()}
            for action, row in counts.iterrows()
        },
        "over_capacity": int((tasks["status"] == "over_capacity").sum()),
        "sla_at_risk": int(tasks["sla_at_risk"].sum()),
        "seconds": {name: round(value, 2) for name, value in seconds.items()},
        "outbox": {"url": config.outbox_url, "new_tasks": queued, "scheduled": len(lists.handoff)},
        "holdout_drawn_per": (
            f"programme {config.serving.programme_id}"
            if config.serving.programme_id
            else f"campaign {campaign_id}"
        ),
        "feature_store": {"url": config.feature_store_url, "customers": published},
    }
    summary["detectability"] = detectability(tasks, config.programme.expected_effect)
    summary["exploration"] = exploration_summary(lists, config.serving.exploration_share)
    summary["capacity_plan"] = capacity_plan(
        tasks, config.serving.calls_per_day, config.serving.schedule_days, as_of
    )
    if len(lists.callbacks):
        summary["example_customer"] = str(lists.callbacks["customer_id"].iat[0])
    return summary


def exploration_summary(lists: CampaignLists, share: float) -> dict:
    """The exploration slice in figures: its tasks, those made, their share of the
    retention calls made, and the draw's probability in each queue."""
    tasks = lists.tasks
    retention = tasks[(tasks["action"] == RETENTION_CALLBACK) & (tasks["status"] == "scheduled")]
    explored = tasks[tasks["exploration"]]
    drawn = explored.groupby("queue")["assignment_probability"].first()
    return {
        "share": share,
        "tasks": int(len(explored)),
        "scheduled": int((explored["status"] == "scheduled").sum()),
        "share_of_retention_calls_made": (
            float(retention["exploration"].mean()) if len(retention) else None
        ),
        "assignment_probability": {queue: float(p) for queue, p in drawn.items()},
    }
