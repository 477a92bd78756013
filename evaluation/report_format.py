"""The report's numbers as text: rates are percentages with one decimal, effects percentage
points with their 95% interval as "[low, high]", p-values three significant digits, and a
missing value is "n/a". The HTML page and `retain evaluate`'s table both use these.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from common.names import HOLDOUT, OWED_GROUP, TREATMENT

NA = "n/a"

HEADLINE_LABELS = {
    "campaign_id": "Campaign",
    "as_of": "As of",
    "horizon_days": "Outcome horizon (days)",
    "targeting": "Targeting",
    "tasks": "Campaign tasks (both groups)",
    TREATMENT: "Customers in treatment",
    HOLDOUT: "Customers in holdout",
    OWED_GROUP: "Owed calls (never held out, outside the experiment)",
    "coverage": "Coverage (tasks contacted)",
    "reached": "Reached (share of treatment tasks)",
    "within_sla": "Contacted within SLA",
    "contacted_churn_effect": "Churn effect on the reached (ITT ÷ share reached) [95% CI]",
    "itt_churn_effect": "Churn effect, intention to treat [95% CI]",
    "itt_p_value": "p-value, intention to treat",
    "minimum_detectable_churn_difference": (
        "Minimum detectable churn difference (80% power, 5% level, these group sizes)"
    ),
    "true_itt_churn_effect": "True churn effect, intention to treat (simulation only)",
}
_RATE_KEYS = {"coverage", "within_sla", "share", "reached"}


def is_missing(value) -> bool:
    """None, NaN, NaT or pd.NA (a scalar); a list or an array is never missing."""
    if value is None:
        return True
    try:
        return bool(np.ndim(value) == 0 and pd.isna(value))
    except (TypeError, ValueError):
        return False


def pct(value) -> str:
    """0.1234 -> "12.3%"."""
    return NA if is_missing(value) else f"{100 * float(value):.1f}%"


def pp(value) -> str:
    """A difference of rates in percentage points: -0.0213 -> "-2.1 pp"."""
    return NA if is_missing(value) else f"{100 * float(value):+.1f} pp"


def ci(low, high) -> str:
    """An interval of a difference in percentage points: "[-3.5, -0.7]"."""
    if is_missing(low) or is_missing(high):
        return NA
    return f"[{100 * float(low):.1f}, {100 * float(high):.1f}]"


def p_value(value) -> str:
    """Three significant digits: 0.01234 -> "0.0123"."""
    return NA if is_missing(value) else f"{float(value):.3g}"


def count(value) -> str:
    """A whole number with thousands separators: 1234.0 -> "1,234"."""
    return NA if is_missing(value) else f"{round(float(value)):,}"


def number(value, digits: int = 2) -> str:
    """A number with `digits` decimals: 3.4123 -> "3.41"."""
    return NA if is_missing(value) else f"{float(value):.{digits}f}"


def text(value) -> str:
    """Any cell: yes/no for booleans, four significant digits for floats, thousands
    separators for integers, ISO dates (with the time only when there is one)."""
    if is_missing(value):
        return NA
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def headline_rows(headline: dict) -> list[tuple[str, str]]:
    """(label, formatted value) per headline figure; an effect carries its interval
    (`itt_churn_effect` takes `itt_ci_low` / `itt_ci_high`), which then has no row."""
    intervals = {}
    for key in headline:
        if key.endswith("_ci_low") and f"{key[: -len('_ci_low')]}_ci_high" in headline:
            prefix = key[: -len("_ci_low")]
            intervals[prefix] = (headline[key], headline[f"{prefix}_ci_high"])
    rows, shown = [], set()
    for key, value in headline.items():
        if key in shown:
            continue
        label = HEADLINE_LABELS.get(key, key.replace("_", " ").capitalize())
        if key.endswith("_effect"):
            prefix = next((p for p in _prefixes(key) if p in intervals), None)
            formatted = pp(value)
            if prefix is not None:
                formatted += " " + ci(*intervals[prefix])
                shown |= {f"{prefix}_ci_low", f"{prefix}_ci_high"}
        elif key.endswith("p_value"):
            formatted = p_value(value)
        elif key.startswith("minimum_detectable"):
            formatted = NA if is_missing(value) else f"{100 * float(value):.2f} pp"
        elif key in _RATE_KEYS or key.endswith(("_rate", "_share", "_coverage")):
            formatted = pct(value)
        else:
            formatted = text(value)
        rows.append((label, formatted))
    # An interval without its effect still gets its rows, after the rest.
    return rows + [
        (key.replace("_", " ").capitalize(), pp(value))
        for key, value in headline.items()
        if key.endswith(("_ci_low", "_ci_high")) and key not in shown
    ]


def _prefixes(key: str) -> list[str]:
    """itt_churn_effect -> ["itt_churn", "itt"]: where its interval's keys may start."""
    parts = key[: -len("_effect")].split("_")
    return ["_".join(parts[:n]) for n in range(len(parts), 0, -1)]
