"""Why a score is high, in words a caller can read out.

A reason is a feature whose SHAP contribution (LightGBM's `pred_contrib`, log-odds) pushes
the score up for this customer, with its value and a phrase. Phrases are written for the
features that matter to a caller; any other feature gets a plain rendering of its name and
value, so a reason is never silently missing.

A caller acts on what happened recently and can change: money leaving, a complaint, fewer
logins. So reasons are events first; who the customer is (age, tenure, region, value) is
cited only when too few events push the score up; and an event older than the longest
look-back window (`serving.reason_max_age_days`, "complaint resolved 669 days ago") is
never cited.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np

Row = Mapping  # one customer's features by name
WINDOW_SUFFIX = re.compile(r"_\d+d$")
# Who the customer is, not what happened: context for a caller, never the first reason.
PROFILE_FEATURES = frozenset(
    {
        "age_years",
        "tenure_days",
        "product_tenure_days",
        "gender",
        "region",
        "income_band",
        "segment",
        "preferred_channel",
        "risk_appetite",
        "do_not_contact",
        "customer_value",
        "tier",
        "assets_latest",
        "debt_latest",
        "current_balance_latest",
    }
)
RECENCY_PREFIX = "days_since_"


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _when(row: Row, days_feature: str, as_of: datetime) -> str:
    days = row.get(days_feature)
    if days is None or not math.isfinite(days):
        return "a long time"
    return (as_of - timedelta(days=float(days))).strftime("%B %Y")


def _channel(name: str) -> str:
    return name.upper() if name in ("atm", "pos") else name


def _windowed(pattern: str, template: Callable[[float, str], str]):
    """A phrase for every window of a family, e.g. fee_sum_30d … fee_sum_365d."""
    return re.compile(pattern), template


PHRASES: dict[str, Callable[[float, Row, datetime], str]] = {
    "salary_stopped": lambda v, row, as_of: (
        f"salary no longer paid in since {_when(row, 'days_since_last_salary', as_of)}"
        if v >= 1
        else "salary still paid in"
    ),
    "salary_present": lambda v, row, as_of: (
        "no salary paid in recently" if v < 1 else "salary paid in"
    ),
    "days_since_last_salary": lambda v, row, as_of: f"last salary {_n(v)} days ago",
    "days_since_last_txn": lambda v, row, as_of: f"no transaction for {_n(v)} days",
    "txn_count_trend": lambda v, row, as_of: (
        f"transactions down to {v:.0%} of their usual level" if v < 1 else "more transactions"
    ),
    "debit_sum_trend": lambda v, row, as_of: (
        f"spending down to {v:.0%} of its usual level" if v < 1 else "spending up"
    ),
    "net_flow_90d": lambda v, row, as_of: (
        f"{_n(-v)} more paid out than in over 90 days"
        if v < 0
        else f"{_n(v)} more in than out over 90 days"
    ),
    "complaint_open": lambda v, row, as_of: (
        "a complaint is still open" if v >= 1 else "no open complaint"
    ),
    "complaint_count_90d": lambda v, row, as_of: f"{_n(v)} complaint(s) in the last 90 days",
    "complaint_count_365d": lambda v, row, as_of: f"{_n(v)} complaint(s) in the last year",
    "complaint_sla_breach_365d": lambda v, row, as_of: (
        f"{_n(v)} complaint(s) answered late in the last year"
    ),
    "complaint_max_severity_365d": lambda v, row, as_of: f"a complaint of severity {_n(v)}",
    "days_since_last_complaint": lambda v, row, as_of: f"complained {_n(v)} days ago",
    "days_since_complaint_resolved": lambda v, row, as_of: f"complaint resolved {_n(v)} days ago",
    "satisfaction_last": lambda v, row, as_of: f"last satisfaction score {v:.0f} of 5",
    "satisfaction_mean_365d": lambda v, row, as_of: f"satisfaction {v:.1f} of 5 this year",
    "products_closed_90d": lambda v, row, as_of: f"closed {_n(v)} product(s) in 90 days",
    "products_closed_365d": lambda v, row, as_of: f"closed {_n(v)} product(s) this year",
    "days_since_last_product_closed": lambda v, row, as_of: f"closed a product {_n(v)} days ago",
    "products_held": lambda v, row, as_of: f"holds {_n(v)} product(s)",
    "days_since_last_login": lambda v, row, as_of: f"no app or web login for {_n(v)} days",
    "login_trend": lambda v, row, as_of: (
        f"logins down to {v:.0%} of their usual level" if v < 1 else "logging in more"
    ),
    "assets_trend_3m": lambda v, row, as_of: (
        f"balances down {_n(-v)} in 3 months" if v < 0 else f"balances up {_n(v)} in 3 months"
    ),
    "assets_latest": lambda v, row, as_of: f"assets of {_n(v)}",
    "customer_value": lambda v, row, as_of: f"value to the bank {_n(v)}",
    "risk_appetite": lambda v, row, as_of: f"risk appetite {_n(v)} of 5",
    "current_balance_latest": lambda v, row, as_of: f"current account balance {_n(v)}",
    "debt_latest": lambda v, row, as_of: f"owes {_n(v)}",
    "digital_share_90d": lambda v, row, as_of: f"{v:.0%} of transactions online or in the app",
    "tenure_days": lambda v, row, as_of: f"customer for {v / 365.25:.1f} years",
    "product_tenure_days": lambda v, row, as_of: f"first account opened {_n(v)} days ago",
    "days_since_last_product_opened": lambda v, row, as_of: f"opened a product {_n(v)} days ago",
    "age_years": lambda v, row, as_of: f"aged {_n(v)}",
    "callback_count_365d": lambda v, row, as_of: f"{_n(v)} callback(s) this year",
    "days_since_last_callback": lambda v, row, as_of: f"last called {_n(v)} days ago",
}

PATTERNS = [
    _windowed(
        r"transfer_out_other_bank_sum_(\d+)d",
        lambda v, w: f"moved {_n(v)} to other banks in {w} days",
    ),
    _windowed(r"fee_sum_(\d+)d", lambda v, w: f"paid {_n(v)} in fees in {w} days"),
    _windowed(r"txn_count_(\d+)d", lambda v, w: f"{_n(v)} transactions in {w} days"),
    (
        re.compile(r"txn_count_([a-z]+)_(\d+)d"),
        lambda v, channel, w: f"{_n(v)} {_channel(channel)} transactions in {w} days",
    ),
    _windowed(r"salary_sum_(\d+)d", lambda v, w: f"{_n(v)} salary paid in over {w} days"),
    _windowed(r"credit_sum_(\d+)d", lambda v, w: f"{_n(v)} paid in over {w} days"),
    _windowed(r"debit_sum_(\d+)d", lambda v, w: f"{_n(v)} paid out over {w} days"),
    _windowed(r"login_count_(\d+)d", lambda v, w: f"{_n(v)} logins in {w} days"),
]


def phrase(feature: str, value, row: Row, as_of: datetime) -> str:
    """The sentence for one feature of one customer."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return f"no {feature.replace('_', ' ')} on record"
    if isinstance(value, str):
        return f"{feature.replace('_', ' ')}: {value}"
    value = float(value)
    if feature in PHRASES:
        return PHRASES[feature](value, row, as_of)
    for pattern, template in PATTERNS:
        match = pattern.fullmatch(feature)
        if match:
            return template(value, *match.groups())
    if feature.startswith("held__"):
        return f"{'holds' if value else 'does not hold'} {feature.removeprefix('held__')}"
    if feature.startswith("held_family__"):
        family = feature.removeprefix("held_family__").replace("_", " ")
        return f"{'holds' if value else 'no'} {family}"
    return f"{feature.replace('_', ' ')} {value:,.4g}"


def top_reasons(
    contributions: np.ndarray,
    rows: Sequence[Mapping],
    names: list[str],
    as_of: datetime,
    count: int,
    max_age_days: float = 365,
) -> list[list[dict]]:
    """Per row, the `count` features pushing the score up most (positive contribution):
    events first, strongest first, then profile features (`PROFILE_FEATURES`) if events
    are too few; never a recency older than `max_age_days`. Each: feature, value,
    contribution (log-odds), phrase. One reason per family of windows (fee_sum_30d and
    fee_sum_90d say the same thing to a caller)."""
    reasons = []
    families = [WINDOW_SUFFIX.sub("", name) for name in names]
    profile = np.array([name in PROFILE_FEATURES for name in names], dtype=bool)
    recency = [name.startswith(RECENCY_PREFIX) for name in names]
    for i, row in enumerate(rows):
        row_contributions = contributions[i, : len(names)]
        order = np.argsort(-row_contributions, kind="stable")
        order = order[row_contributions[order] > 0]
        chosen, seen = [], set()
        for j in [*order[~profile[order]], *order[profile[order]]]:
            if len(chosen) == count:
                break
            value = _plain(row.get(names[j]))
            stale = recency[j] and isinstance(value, float) and value > max_age_days
            if families[j] in seen or stale:
                continue
            seen.add(families[j])
            chosen.append(
                {
                    "feature": names[j],
                    "value": value,
                    "contribution": round(float(row_contributions[j]), 4),
                    "phrase": phrase(names[j], value, row, as_of),
                }
            )
        reasons.append(chosen)
    return reasons


def is_event(feature: str, value, max_age_days: float = 365) -> bool:
    """A reason a caller can act on: not a profile feature, and not a recency older than
    `max_age_days`."""
    if feature in PROFILE_FEATURES:
        return False
    value = _plain(value)
    return not (
        feature.startswith(RECENCY_PREFIX) and isinstance(value, float) and value > max_age_days
    )


def _plain(value):
    """JSON-ready: floats (None when missing) or text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (np.floating, np.integer)):
        value = float(value)
        return None if math.isnan(value) else value
    return value if isinstance(value, (int, float)) else str(value)
