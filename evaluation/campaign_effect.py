"""Did the campaign change the rate? Treatment against holdout, with an interval and a
p-value a programme owner can trust at the group sizes campaigns have.

The difference of two proportions (treatment − holdout, e.g. churn rate over the horizon)
gets Newcombe's hybrid score interval (Newcombe 1998, Statistics in Medicine 17, method
10): built from each group's Wilson interval, it keeps its nominal coverage with a few
hundred customers and rates near 0, where the textbook Wald interval is too narrow. The
p-value comes from the same method, by inverting the interval: it is 1 − the largest
confidence whose interval still excludes 0, so p < 0.05 exactly when the 95 % interval
excludes 0 and the report never shows an interval and a p-value that disagree.

`minimum_detectable_effect` says what a campaign's group sizes can see at all, and
`adjusted_p_values` corrects the many segment tests of a report for multiplicity
(Benjamini–Hochberg).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

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
    return _wilson(events, n, float(stats.norm.ppf(0.5 + confidence / 2)))


def _wilson(events: int, n: int, z: float) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    rate = events / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _newcombe(x1: int, n1: int, x0: int, n0: int, z: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval of x1/n1 − x0/n0 at the normal quantile z."""
    p1, p0 = x1 / n1, x0 / n0
    low1, high1 = _wilson(x1, n1, z)
    low0, high0 = _wilson(x0, n0, z)
    difference = p1 - p0
    return (
        difference - math.sqrt((p1 - low1) ** 2 + (high0 - p0) ** 2),
        difference + math.sqrt((high1 - p1) ** 2 + (p0 - low0) ** 2),
    )


# Beyond this quantile (p ≈ 1e-300) a p-value is reported as 0.
_MAX_Z = 37.0


def _newcombe_p_value(x1: int, n1: int, x0: int, n0: int) -> float:
    """Two-sided p-value of no difference: 2 × the normal tail beyond the quantile at which
    the interval's edge on the side of 0 touches 0."""
    if x1 * n0 == x0 * n1:
        return 1.0
    side = 0 if x1 * n0 > x0 * n1 else 1  # the lower edge when the difference is positive

    def edge(z: float) -> float:
        return _newcombe(x1, n1, x0, n0, z)[side]

    if (edge(_MAX_Z) > 0) == (side == 0):
        return 0.0
    z = optimize.brentq(edge, 1e-12, _MAX_Z, xtol=1e-12)
    return float(min(1.0, 2 * stats.norm.sf(z)))


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
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    ci_low, ci_high = _newcombe(x1, n1, x0, n0, z)
    p_value = _newcombe_p_value(x1, n1, x0, n0)
    return Effect(n1, x1 / n1, n0, x0 / n0, x1 / n1 - x0 / n0, ci_low, ci_high, p_value, NEWCOMBE)


NEWCOMBE = "newcombe_score"  # the `test` of every Effect: interval and p-value of one method


def effect_on_reached(
    treated, treated_reached, holdout, holdout_reached, confidence: float = 0.95
) -> tuple[float, float, float]:
    """The effect of a call on those it reached (Bloom's estimator, the Wald ratio of
    instrumental variables): (ȳ_T − ȳ_H) / (r̄_T − r̄_H), where r is reached (the holdout
    normally has none), with the delta-method interval that carries the uncertainty of the
    reach share and its covariance with the outcome:
    Var = [Var_T(y − θr) / n_T + Var_H(y − θr) / n_H] / (r̄_T − r̄_H)².

    Returns:
        (effect, low, high); NaN when nobody was reached.
    """
    y1, r1 = np.asarray(treated, float), np.asarray(treated_reached, float)
    y0, r0 = np.asarray(holdout, float), np.asarray(holdout_reached, float)
    reach = r1.mean() - r0.mean() if len(r1) and len(r0) else 0.0
    if reach <= 0 or len(y1) < 2 or len(y0) < 2:
        return math.nan, math.nan, math.nan
    effect = float((y1.mean() - y0.mean()) / reach)
    variance = (
        np.var(y1 - effect * r1, ddof=1) / len(y1) + np.var(y0 - effect * r0, ddof=1) / len(y0)
    ) / reach**2
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * math.sqrt(variance)
    return effect, effect - half, effect + half


def minimum_detectable_effect(
    treated: int, holdout: int, base_rate: float, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest difference of rates (either sign, as a positive fraction) that groups
    of `treated` and `holdout` customers detect with probability `power` in a two-sided
    test at level `alpha`, when the holdout's rate is `base_rate` (normal approximation:
    (z₁₋α/₂ + z_power) × √(p(1 − p)(1/n₁ + 1/n₀)))."""
    if treated <= 0 or holdout <= 0 or not 0 < base_rate < 1:
        return math.nan
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(z * math.sqrt(base_rate * (1 - base_rate) * (1 / treated + 1 / holdout)))


def adjusted_p_values(p_values) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (false discovery rate) of a family of tests;
    NaN entries stay NaN and do not count in the family."""
    values = np.asarray(p_values, dtype="float64")
    adjusted = np.full_like(values, np.nan)
    known = ~np.isnan(values)
    if known.any():
        adjusted[known] = stats.false_discovery_control(values[known], method="bh")
    return adjusted


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
