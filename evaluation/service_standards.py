"""The plans' service standards, measured: complaint handling, callback coverage, contact
cadence by tier, satisfaction by tier and the tier migrations of the last quarter.

Each figure is a plain function of the tables it needs (pandas in, a table out), so a test
can check it against a hand computation; `service_report` gathers them from an extract and
the campaigns `retain score` wrote. A figure the extract cannot give (a field the bank does
not provide) is reported as not measurable with the field named, never guessed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from common.config import ProgrammeConfig, TierPolicy, TierRules

HOUR = pd.Timedelta(hours=1)
MAJOR_SEVERITY = 3
NOT_REACHED = "not_reached"


def complaint_handling(
    complaints: pd.DataFrame, as_of: pd.Timestamp, targets: ProgrammeConfig
) -> pd.DataFrame:
    """Complaints raised in the period (`ts`, `severity`, `resolved_at`, and
    `responded_at` where the bank provides it) against the plans' three standards:
    response within `complaint_response_hours`, mean handling time within
    `complaint_handling_hours`, major complaints resolved within `major_resolution_hours`.
    A complaint still open at `as_of` has been handled for as long as it has been open.

    Returns:
        One row per standard: measure, complaints, value, target, met (None: not
        measurable), note.
    """
    raised = pd.to_datetime(complaints["ts"])
    resolved = pd.to_datetime(complaints["resolved_at"])
    handling = ((resolved.fillna(as_of) - raised) / HOUR).to_numpy(dtype=float)
    handling_label = "mean handling time, hours (open ones: so far)"
    if missing_field(complaints, "resolved_at"):
        handling_row = _not_measurable(handling_label, complaints, "resolved_at")
    else:
        handling_row = _row(
            handling_label,
            len(complaints),
            float(np.mean(handling)) if len(complaints) else np.nan,
            targets.complaint_handling_hours,
            lower_is_better=True,
        )
    major_label = f"major complaints resolved within {targets.major_resolution_hours:g} h"
    major = (complaints["severity"] == MAJOR_SEVERITY).to_numpy()
    within = (handling[major] <= targets.major_resolution_hours) & resolved[major].notna()
    if missing_field(complaints, "severity"):
        major_row = _not_measurable(major_label, complaints, "severity")
    else:
        value = float(np.mean(within)) if major.any() else np.nan
        major_row = _row(major_label, int(major.sum()), value, targets.coverage_target)
    return pd.DataFrame(
        [
            _response_row(complaints, raised, as_of, targets),
            handling_row | {"unit": "hours"},
            major_row,
        ]
    )


def missing_field(frame: pd.DataFrame, column: str) -> bool:
    """The bank does not provide the field: absent, or null on every row there is."""
    return column not in frame or (len(frame) > 0 and frame[column].isna().all())


def _not_measurable(measure: str, complaints: pd.DataFrame, column: str) -> dict:
    return _row(measure, len(complaints), np.nan, np.nan) | {
        "note": f"not measurable: field interactions.{column} missing"
    }


def _response_row(complaints, raised, as_of, targets: ProgrammeConfig) -> dict:
    label = f"answered within {targets.complaint_response_hours:g} h"
    if "responded_at" not in complaints or complaints["responded_at"].isna().all():
        return _not_measurable(label, complaints, "responded_at")
    responded = pd.to_datetime(complaints["responded_at"]).fillna(as_of)
    within = (responded - raised) / HOUR <= targets.complaint_response_hours
    within &= complaints["responded_at"].notna()
    return _row(label, len(complaints), float(within.mean()), targets.coverage_target)


def _row(measure: str, count: int, value: float, target: float, lower_is_better=False) -> dict:
    if np.isnan(value):
        met = None
    else:
        met = bool(value <= target) if lower_is_better else bool(value >= target)
    return {
        "measure": measure,
        "complaints": count,
        "value": value,
        "unit": "share",
        "target": target,
        "met": met,
        "note": "" if count else "no complaint in the period",
    }


def callback_coverage(tasks: pd.DataFrame, target: float) -> pd.DataFrame:
    """The campaigns' tasks given to callers (treatment and owed, within capacity), joined
    to the CRM's contacts (`contacted_at`): per tier and channel, tasks, contacted,
    coverage and the share contacted by the due time, against `target`."""
    contacted = tasks["contacted_at"].notna()
    on_time = contacted & (pd.to_datetime(tasks["contacted_at"]) <= pd.to_datetime(tasks["due_at"]))
    frame = tasks.assign(contacted=contacted, on_time=on_time)
    table = frame.groupby(["tier", "channel"], observed=True).agg(
        tasks=("task_id", "size"), contacted=("contacted", "sum"), on_time=("on_time", "sum")
    )
    table["coverage"] = table["contacted"] / table["tasks"]
    table["within_sla"] = table["on_time"] / table["tasks"]
    table["target"] = target
    table["met"] = (table["coverage"] >= target) & (table["within_sla"] >= target)
    return table.drop(columns="on_time").reset_index()


def contact_cadence(
    callbacks: pd.DataFrame, tiers: pd.DataFrame, policies: dict[str, TierPolicy], target: float
) -> pd.DataFrame:
    """Per tier whose policy asks for contacts (`contacts_per_year` > 0): its customers at
    the period's end (`tiers`: customer_id, tier), how many had at least that many
    callbacks that reached them in the period (`callbacks`: customer_id, outcome), the
    share, against `target`."""
    reached = callbacks[callbacks["outcome"] != NOT_REACHED]
    counts = reached.groupby("customer_id").size()
    rows = []
    for tier, policy in policies.items():
        if policy.contacts_per_year <= 0:
            continue
        ids = tiers.loc[tiers["tier"] == tier, "customer_id"]
        met = int((counts.reindex(ids).fillna(0) >= policy.contacts_per_year).sum())
        share = met / len(ids) if len(ids) else np.nan
        rows.append(
            {
                "tier": tier,
                "contacts_a_year": policy.contacts_per_year,
                "customers": len(ids),
                "contacted_enough": met,
                "share": share,
                "target": target,
                "met": None if np.isnan(share) else bool(share >= target),
            }
        )
    return pd.DataFrame(rows, columns=CADENCE_COLUMNS)


CADENCE_COLUMNS = [
    "tier",
    "contacts_a_year",
    "customers",
    "contacted_enough",
    "share",
    "target",
    "met",
]


def satisfaction_by_tier(
    answers: pd.DataFrame, tiers: pd.DataFrame, targets: ProgrammeConfig
) -> pd.DataFrame:
    """Satisfaction scores given in the period (`answers`: customer_id, satisfaction 1–5)
    per tier at the period's end and overall: answers, the share satisfied (score ≥
    `satisfied_min_score`), the plans' target where one is set."""
    scored = answers.dropna(subset=["satisfaction"]).merge(tiers, on="customer_id", how="inner")
    scored["satisfied"] = scored["satisfaction"] >= targets.satisfied_min_score
    groups = [(tier, part) for tier, part in scored.groupby("tier", observed=True)]
    rows = []
    for tier, part in [*groups, ("overall", scored)]:
        share = float(part["satisfied"].mean()) if len(part) else np.nan
        target = targets.satisfaction_targets.get(tier)
        rows.append(
            {
                "tier": tier,
                "answers": len(part),
                "satisfied": share,
                "target": target,
                "met": None if target is None or np.isnan(share) else bool(share >= target),
            }
        )
    return pd.DataFrame(rows)


def tier_migrations(
    before: pd.DataFrame, after: pd.DataFrame, rules: TierRules
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Who moved between tiers from one date to the next (`before`, `after`: customer_id,
    tier, and at `after` the features the tier rules read), and why.

    Returns:
        The counts per (from, to) of the customers at both dates, and the customers who
        moved with the rule that placed them now.
    """
    both = before[["customer_id", "tier"]].merge(
        after, on="customer_id", how="inner", suffixes=("_before", "")
    )
    counts = (
        both.groupby(["tier_before", "tier"], observed=True)
        .size()
        .rename("customers")
        .reset_index()
        .rename(columns={"tier_before": "from", "tier": "to"})
    )
    moved = both[both["tier_before"] != both["tier"]]
    reasons = [tier_rule(row, rules) for row in moved.to_dict("records")]
    moved = pd.DataFrame(
        {
            "customer_id": moved["customer_id"].to_numpy(),
            "from": moved["tier_before"].to_numpy(),
            "to": moved["tier"].to_numpy(),
            "rule": reasons,
        }
    )
    return counts, moved


def tier_rule(row: dict, rules: TierRules) -> str:
    """The rule of `features.value` that gives the customer their tier, with the values."""
    assets = _number(row.get("assets_latest"))
    transactions = _number(row.get("txn_count_90d"))
    tier = row["tier"]
    if tier == "churned":
        return "no product held"
    if tier == "new":
        return (
            f"customer for {_number(row.get('tenure_days')):.0f} days (< {rules.new_customer_days})"
        )
    if tier == "core":
        return f"assets {assets:,.0f} ≥ {rules.core_min_assets:,.0f}"
    if tier == "important" and assets >= rules.important_min_assets:
        return f"assets {assets:,.0f} ≥ {rules.important_min_assets:,.0f}"
    if tier == "important":
        return (
            f"{transactions:.0f} transactions in 90 days ≥ {rules.important_min_transactions_90d}"
        )
    return (
        f"assets {assets:,.0f} < {rules.important_min_assets:,.0f} and {transactions:.0f} "
        f"transactions in 90 days < {rules.important_min_transactions_90d}"
    )


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if np.isfinite(number) else 0.0
