"""The synthetic bank's call centre: what happened to each task of a campaign.

`simulate_contacts` plays the CRM for a campaign Retain scored: callers work through the
scheduled tasks of the treatment group (most on the day planned, some late, a few never),
reach most customers, and record an outcome, a satisfaction score and a note. Held-out
customers are never called. The result is a CRM export in the `campaign_contacts`
contract, loaded like a real one with `retain outcomes load`.

The customers the calls reached then go back into the generator (`generate_bank(calls=…)`),
which changes their churn and adoption by each customer's known response
(`simulation.calls.call_response`); the bank's later months, and so the labels the
evaluation reads, show the calls' effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from common.names import COMPLAINT_FOLLOW_UP, CONTACTED_GROUPS, CROSS_SELL_OFFER
from features.schema import CAMPAIGN_CONTACTS

# Chance a caller attempts a scheduled task, and that the attempt reaches the customer.
ATTEMPTED = {"scheduled": 0.97, "over_capacity": 0.25}
REACHED_BY_CHANNEL = {"phone": 0.82, "in_person": 0.93, "email": 0.55, "app": 0.65}
LATE_SHARE = 0.12  # attempts a working day or more after the planned day
SATISFACTION_BY_RESPONSE = {"sleeping_dog": 2.2}  # mean score; others 4.0
NOTES = {
    "issue_resolved": "Customer confirmed the problem is fixed.",
    "accepted_offer": "Customer accepted the offer; paperwork sent.",
    "declined": "Customer not interested at the moment.",
    "reached": "Talked through the customer's situation; no further action.",
    "not_reached": "No answer; voicemail left.",
}


def simulate_contacts(
    tasks: pd.DataFrame, seed: int, responses: pd.Series | None = None
) -> pd.DataFrame:
    """A CRM export (the `campaign_contacts` contract) for the tasks of one campaign.

    Args:
        tasks: the campaign's `tasks.parquet` (both groups).
        seed: random seed; the same tasks and seed give the same export.
        responses: the truth's response type by customer id (optional): customers a call
            annoys give lower satisfaction scores.
    """
    rng = np.random.default_rng(seed)
    n = len(tasks)
    treated = tasks["group"].isin(CONTACTED_GROUPS).to_numpy()  # owed calls are made too
    attempt_share = tasks["status"].map(ATTEMPTED).fillna(0.0).to_numpy()
    attempted = treated & (rng.random(n) < attempt_share)
    channel = tasks["channel"].where(tasks["channel"].isin(list(REACHED_BY_CHANNEL)), "phone")
    reached = attempted & (rng.random(n) < channel.map(REACHED_BY_CHANNEL).to_numpy())

    planned = pd.to_datetime(tasks["scheduled_for"]).fillna(pd.to_datetime(tasks["due_at"]))
    late_days = np.where(rng.random(n) < LATE_SHARE, rng.integers(1, 4, n), 0)
    clock = pd.to_timedelta(9 * 3600 + rng.integers(0, 8 * 3600, n), unit="s")
    contacted_at = planned + pd.to_timedelta(late_days, unit="D") + clock
    contacted_at = contacted_at.where(attempted, pd.NaT)

    outcome = np.full(n, None, dtype=object)
    outcome[attempted] = "not_reached"
    draw = rng.random(n)
    action = tasks["action"].to_numpy()
    for i in np.flatnonzero(reached):
        if action[i] == COMPLAINT_FOLLOW_UP:
            outcome[i] = "issue_resolved" if draw[i] < 0.8 else "reached"
        elif action[i] == CROSS_SELL_OFFER:
            outcome[i] = (
                "accepted_offer" if draw[i] < 0.15 else "declined" if draw[i] < 0.5 else "reached"
            )
        else:
            outcome[i] = (
                "accepted_offer" if draw[i] < 0.1 else "declined" if draw[i] < 0.2 else "reached"
            )

    mean_score = np.full(n, 4.0)
    if responses is not None:
        kinds = tasks["customer_id"].map(responses).astype(object).to_numpy()
        for kind, score in SATISFACTION_BY_RESPONSE.items():
            mean_score[kinds == kind] = score
    satisfaction = np.clip(np.round(rng.normal(mean_score, 0.8)), 1, 5)
    export = pd.DataFrame(
        {
            "campaign_id": tasks["campaign_id"].to_numpy(),
            "task_id": tasks["task_id"].to_numpy(),
            "customer_id": tasks["customer_id"].to_numpy(),
            "group": tasks["group"].to_numpy(),
            "action": action,
            "product_id": tasks["product_id"].replace("", None).to_numpy(),
            "assigned_at": pd.to_datetime(tasks["assigned_at"]).to_numpy(),
            "due_at": pd.to_datetime(tasks["due_at"]).to_numpy(),
            "contacted_at": contacted_at.to_numpy(),
            "channel": np.where(attempted, channel.to_numpy(), None),
            "outcome": outcome,
            "satisfaction": pd.array(np.where(reached, satisfaction, np.nan)).astype("Int64"),
            "notes": [NOTES[o] if o else None for o in outcome],
        }
    )
    return export[list(CAMPAIGN_CONTACTS.column_names)]


def reached_customers(contacts: pd.DataFrame) -> list[str]:
    """Customers a call reached (treatment or a call they were owed): these the generator
    changes."""
    reached = contacts[
        contacts["group"].isin(CONTACTED_GROUPS)
        & contacts["outcome"].notna()
        & (contacts["outcome"] != "not_reached")
    ]
    return sorted(reached["customer_id"].unique())
