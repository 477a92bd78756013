"""Can a campaign's holdout show the effect the programme expects? Said before it goes out.

The evaluation compares the churn of the listed customers in treatment with those held out
(`evaluation.campaign_effect`). With few held out, a real effect is likely to go unseen:
this compares the minimum detectable difference at the campaign's group sizes and its
customers' predicted churn with `programme.expected_effect`, and says which holdout share
would detect it.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from common.names import HOLDOUT, TREATMENT
from evaluation.campaign_effect import minimum_detectable_effect

ALPHA, POWER = 0.05, 0.8


def detectability(tasks: pd.DataFrame, expected_effect: float) -> dict:
    """The campaign's power check: group sizes (customers), their mean predicted churn, the
    minimum detectable difference, whether `expected_effect` is detectable and the smallest
    holdout share that would make it so (None if no split of these customers can). Only the
    experiment's arms count: owed calls are outside it."""
    customers = tasks[tasks["group"].isin([TREATMENT, HOLDOUT])].drop_duplicates("customer_id")
    treated = int((customers["group"] == TREATMENT).sum())
    holdout = int((customers["group"] == HOLDOUT).sum())
    base_rate = float(customers["churn_probability"].mean()) if len(customers) else math.nan
    mde = minimum_detectable_effect(treated, holdout, base_rate, ALPHA, POWER)
    return {
        "expected_effect": expected_effect,
        "treated": treated,
        "holdout": holdout,
        "base_churn_rate": base_rate,
        "minimum_detectable_effect": mde,
        "detectable": bool(mde <= expected_effect),
        "holdout_share_needed": holdout_share_needed(treated + holdout, base_rate, expected_effect),
    }


def holdout_share_needed(customers: int, base_rate: float, effect: float) -> float | None:
    """The smallest holdout share of `customers` that detects `effect` at `base_rate`:
    1/n₁ + 1/n₀ ≤ K with K = (effect ÷ (z × √(p(1 − p))))², i.e. s(1 − s) ≥ 1 / (K N);
    None when even half and half cannot."""
    if customers <= 0 or not 0 < base_rate < 1:
        return None
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    k = (effect / (z * math.sqrt(base_rate * (1 - base_rate)))) ** 2
    need = 1 / (k * customers)
    if need > 0.25:
        return None
    return float((1 - math.sqrt(1 - 4 * need)) / 2)


def detectability_warning(check: dict) -> str | None:
    """One line for the console when the holdout cannot show the expected effect."""
    if check["detectable"] or check["treated"] == 0 or check["holdout"] == 0:
        return None
    share = check["holdout_share_needed"]
    remedy = (
        f"a holdout share of {share:.0%} would (serving.holdout_share)"
        if share is not None
        else "no holdout share can with this many customers: pool campaigns in a programme"
        " (serving.programme_id) or expect a larger effect"
    )
    return (
        f"the holdout cannot show the expected effect: with {check['treated']:,} treated and "
        f"{check['holdout']:,} held out at a predicted churn of {check['base_churn_rate']:.1%}, "
        f"the smallest detectable difference is {100 * check['minimum_detectable_effect']:.2f} "
        f"pp (80% power, 5% level) against programme.expected_effect "
        f"{100 * check['expected_effect']:.2f} pp; {remedy}"
    )
