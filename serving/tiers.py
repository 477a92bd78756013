"""Each tier's policy: its churn threshold, who makes the call, by which channel, by when,
and at which priority (`serving.tiers` in the config)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from common.config import ServingConfig
from serving.actions import (
    COMPLAINT_FOLLOW_UP,
    CROSS_SELL_OFFER,
    NO_ACTION,
    OWED,
    RETENTION_CALLBACK,
    WELCOME_CALLBACK,
    ContactHistory,
)
from serving.rows import FeatureRows

DEFAULT_TIER = "general"  # a customer the bank has not tiered gets the standard process
DEFAULT_CHANNEL = "phone"
# Who handles a contact in the customer's preferred channel; any other channel (e-mail,
# the app) is handled by the digital team.
HANDLERS = {"phone": "call_centre", "in_person": "branch"}


def tiers_of(rows: FeatureRows) -> np.ndarray:
    """Each customer's tier, the default where none is given."""
    tier = rows.column("tier")
    tier[pd.isna(tier)] = DEFAULT_TIER
    return tier


def churn_thresholds(tier: np.ndarray, config: ServingConfig) -> np.ndarray:
    """The churn probability from which each customer's tier calls (`risk` targeting)."""
    return np.array([config.tiers[t].churn_threshold for t in tier])


def route(
    tier: np.ndarray,
    action: np.ndarray,
    rows: FeatureRows,
    history: ContactHistory,
    config: ServingConfig,
    now: datetime,
) -> dict[str, np.ndarray]:
    """Channel, queue, assignee, due time and priority of each action from its tier's
    policy (empty where there is no action).

    Returns:
        The decision's columns `channel`, `queue`, `assignee`, `due_at`, `priority`.
    """
    preferred = _preferred_channels(rows)
    channel, queue, assignee, due, priority = [], [], [], [], []
    for i, (tier_name, kind) in enumerate(zip(tier, action, strict=True)):
        policy = config.tiers[tier_name]
        if kind == NO_ACTION:
            channel.append("")
            queue.append("")
            assignee.append("")
            due.append(pd.NaT)
            priority.append(0)
            continue
        handled = _handler(policy.assignee, preferred[i])
        channel.append(handled[0])
        queue.append(handled[1])
        assignee.append(handled[2])
        due.append(pd.Timestamp(_due(kind, policy.due_hours, history, i, config, now)))
        priority.append(_priority(kind, tier_name))
    return {
        "channel": np.array(channel, dtype=object),
        "queue": np.array(queue, dtype=object),
        "assignee": np.array(assignee, dtype=object),
        "due_at": pd.to_datetime(pd.Series(due, dtype="object")).to_numpy(),
        "priority": np.array(priority, dtype="int64"),
    }


def _preferred_channels(rows: FeatureRows) -> np.ndarray:
    if "preferred_channel" not in rows:
        return np.full(len(rows), DEFAULT_CHANNEL, dtype=object)
    preferred = rows.column("preferred_channel")
    preferred[pd.isna(preferred)] = DEFAULT_CHANNEL
    return preferred


def _handler(policy_assignee: str, preferred: str) -> tuple[str, str, str]:
    """(channel, queue, assignee) under a tier's `assignee` policy."""
    if policy_assignee == "relationship_manager":
        # A relationship manager calls or meets; a preference for e-mail or the app falls
        # back to a phone call.
        chosen = preferred if preferred in ("phone", "in_person") else "phone"
        return chosen, "relationship_manager", "relationship_manager"
    if policy_assignee == "standard_queue":
        return "phone", "phone", "call_centre"
    # `preferred`: the customer's own channel, handled where that channel is staffed.
    return preferred, preferred, HANDLERS.get(preferred, "digital")


def _due(
    kind: str,
    due_hours: int,
    history: ContactHistory,
    i: int,
    config: ServingConfig,
    now: datetime,
) -> datetime:
    """The tier's time for a call, or the earlier limit of a call the customer is owed."""
    limit = now + timedelta(hours=due_hours)
    if kind == COMPLAINT_FOLLOW_UP:
        owed_by = now + timedelta(days=config.complaint_followup_days - history.days_resolved[i])
        limit = min(limit, owed_by)
    elif kind == WELCOME_CALLBACK:
        limit = min(limit, now + timedelta(days=config.welcome_days - history.days_opened[i]))
    return limit


def _priority(kind: str, tier: str) -> int:
    """1: calls owed and retention of valuable tiers; 2: other calls; 3: offers."""
    if kind in OWED or (kind == RETENTION_CALLBACK and tier in ("core", "important")):
        return 1
    return 3 if kind == CROSS_SELL_OFFER else 2
