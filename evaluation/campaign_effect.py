"""Did the campaign change the rate? Treatment against holdout, with an interval and a
p-value a programme owner can trust at the group sizes campaigns have.

The difference of two proportions (treatment − holdout, e.g. churn rate over the horizon)
gets Newcombe's hybrid score interval (Newcombe 1998, Statistics in Medicine 17, method
10): built from each group's Wilson interval, it keeps its nominal coverage with a few
hundred customers and rates near 0, where the textbook Wald interval is too narrow. The
p-value is Fisher's exact test when an expected cell count is under 5, else the pooled
two-proportion z-test.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from common.names import HOLDOUT, TREATMENT


@dataclass(frozen=True)
class Effect:
    """Treatment − holdout difference of a rate, with its interval and p-value."""

    treated: int
    treated_rate: float
    holdout: int
    holdout_rate: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str


def wilson_interval(events: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for one proportion."""
    if n == 0:
        return math.nan, math.nan
    z = stats.norm.ppf(0.5 + confidence / 2)
    rate = events / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def rate_difference(treated, holdout, confidence: float = 0.95) -> Effect:
    """Effect of treatment on a yes/no outcome (arrays of 0/1 or booleans, one per
    customer; NaN is not allowed: a customer whose outcome is unknown is not counted)."""
    treated = np.asarray(treated, dtype="float64")
    holdout = np.asarray(holdout, dtype="float64")
    for name, values in (("treated", treated), ("holdout", holdout)):
        if np.isnan(values).any() or not np.isin(values, (0.0, 1.0)).all():
            raise ValueError(f"{name} outcomes must be 0 or 1 for every customer")
    n1, n0 = len(treated), len(holdout)
    if n1 == 0 or n0 == 0:
        raise ValueError("both groups need at least one customer")
    x1, x0 = int(treated.sum()), int(holdout.sum())
    p1, p0 = x1 / n1, x0 / n0
    low1, high1 = wilson_interval(x1, n1, confidence)
    low0, high0 = wilson_interval(x0, n0, confidence)
    difference = p1 - p0
    ci_low = difference - math.sqrt((p1 - low1) ** 2 + (high0 - p0) ** 2)
    ci_high = difference + math.sqrt((high1 - p1) ** 2 + (p0 - low0) ** 2)
    pooled = (x1 + x0) / (n1 + n0)
    expected = np.outer([n1, n0], [pooled, 1 - pooled])
    if expected.min() < 5:
        _, p_value = stats.fisher_exact([[x1, n1 - x1], [x0, n0 - x0]])
        test = "fisher_exact"
    else:
        z = difference / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        p_value = 2 * stats.norm.sf(abs(z))
        test = "two_proportion_z"
    return Effect(n1, p1, n0, p0, difference, ci_low, ci_high, float(p_value), test)


def effects_by(
    frame: pd.DataFrame,
    outcome: str,
    group: str = "group",
    by: tuple[str, ...] = (),
    treated_label: str = TREATMENT,
    holdout_label: str = HOLDOUT,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row of `Effect` per segment of `by` (all customers first, as segment "all"):
    e.g. the churn effect by tier and by risk band."""
    rows = []
    segments = [("all", "all", frame)]
    for column in by:
        segments += [(column, str(value), part) for value, part in frame.groupby(column)]
    for column, value, part in segments:
        treated = part.loc[part[group] == treated_label, outcome]
        holdout = part.loc[part[group] == holdout_label, outcome]
        if len(treated) == 0 or len(holdout) == 0:
            continue  # a segment without both groups has no effect to estimate
        effect = rate_difference(treated, holdout, confidence)
        rows.append({"segment": column, "value": value, **asdict(effect)})
    return pd.DataFrame(rows)
