"""What would another targeting rule have kept? A doubly-robust value from logged campaigns.

A bank never sees the truth's uplift. What it has are its campaigns: for every customer,
whether the campaign called them, the probability that it would (the exploration slice's
draw, which `retain score` records, times the chance of escaping the holdout's hash draw,
whose share the tasks themselves show), and what happened over the horizon. From these the
augmented inverse-probability-weighted (AIPW, "doubly robust") score of each customer,

    Γᵢ = (μ₀ − μ₁)(xᵢ) + (1 − Aᵢ)(Yᵢ − μ₀(xᵢ)) / (1 − eᵢ) − Aᵢ(Yᵢ − μ₁(xᵢ)) / eᵢ,

is an unbiased estimate of the churn a call takes away from that customer, whatever the
outcome model μ (churn if not called, μ₀; if called, μ₁) is, because the assignment
probability e is known by design (Robins, Rotnitzky & Zhao 1994; for policy values Dudík,
Langford & Li 2011, "Doubly robust policy evaluation and learning"). A good μ only narrows
the interval. The value of a rule that calls the set π of K customers is the mean of Γ
over π, per 1,000 calls; its interval treats customers as independent draws (influence ψᵢ
= N/K · 1[i ∈ π] · Γᵢ, summed per customer when campaigns are pooled). Two rules are
compared on the same Γ, so the interval of their difference is much narrower than
either's.

Only customers whose call was left to chance count (the support): the rules' retention
picks that fitted the capacity (called unless held out), the exploration slice and every
customer it could have drawn. Customers with another action (an offer, an owed call) got a
different treatment and customers the campaign could not call (churned, cooldown,
do-not-contact, over capacity) have no randomised comparison: a rule is valued on the
support only, and says how many customers that is. When capacity binds, the support stops
at the last call made: a rule that would call the rules' picks just below that cut must
take others instead, so a comparison leans towards the model that made the list.

The value is the intention-to-treat one (a call given to a caller, reached or not), in
customers kept per 1,000 calls.

A rule whose picks the campaign mostly left to a small draw probability rests on few
randomised calls: at p = 0.01, a rule calling 400 such customers is judged on about 4
calls, each weighing 100. The estimate stays unbiased but its normal interval no longer
covers (in a simulation with a known truth, 61–89 % instead of 95 % below 50 effective
customers, 92 % at 50 and above: `bench/off_policy_coverage.py`). So every value says on
how many customers it rests, Kish's effective sample size (Σw)² / Σw² of the
inverse-probability weights, the fewer of the called and the not-called arm among the
customers that count, and gives no interval below `MIN_EFFECTIVE_CUSTOMERS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from common.errors import DataError
from common.names import HOLDOUT, NO_ACTION, OWED, RETENTION_CALLBACK, TREATMENT

SUPPORT_COLUMNS = ("customer_id", "called", "propensity", "churned")
# Below this many effective customers per arm the interval is not given (module docstring;
# chosen on the simulated campaign of bench/off_policy_coverage.py, not on a bank).
MIN_EFFECTIVE_CUSTOMERS = 50


@dataclass(frozen=True)
class PolicyValue:
    """Customers a rule's calls keep per 1,000 calls on a campaign's support, with interval."""

    policy: str
    calls: int
    support: int
    retained_per_1000_calls: float
    ci_low: float
    ci_high: float
    effective_customers: float = np.inf  # `effective_customers()`; inf: not checked


@dataclass(frozen=True)
class PolicyDifference:
    """Customers kept per 1,000 calls by one rule minus another, on the same support."""

    difference: float
    ci_low: float
    ci_high: float
    effective_customers: float = np.inf


def logged_support(tasks: pd.DataFrame, scores: pd.DataFrame, churned: pd.DataFrame):
    """The customers of one campaign whose retention call was left to chance.

    Args:
        tasks: the campaign's `tasks.parquet`.
        scores: its `scores.parquet` (with `assignment_probability`; lists written before
            it existed have no exploration slice: the rules' picks get 1, others 0).
        churned: `customer_id`, `churned` (1/0, NaN unknown) over the horizon.

    Returns:
        One row per customer of the support: `called` (given to a caller within capacity),
        `propensity` (the probability the design would call them) and `churned`, with the
        scores' columns (`churn_probability`, `uplift`, `customer_value`, ...).

    Raises:
        DataError: the campaign holds no retention calls, or no holdout to learn from.
    """
    frame = scores[scores["action"].isin([RETENTION_CALLBACK, NO_ACTION])].copy()
    if "assignment_probability" not in frame:
        frame["assignment_probability"] = np.where(frame["action"] == NO_ACTION, 0.0, 1.0)
    retention = tasks[tasks["action"] == RETENTION_CALLBACK]
    campaign = str(tasks["campaign_id"].iat[0]) if len(tasks) else "?"
    if retention.empty:
        raise DataError(f"campaign {campaign}: no retention calls, so no call to value")
    held_out_share = _held_out_share(tasks, campaign)
    status = retention.drop_duplicates("customer_id").set_index("customer_id")
    frame["status"] = frame["customer_id"].map(status["status"])
    frame["dropped"] = frame["customer_id"].isin(_beyond_capacity(status))
    frame["called"] = (
        frame["customer_id"]
        .map((status["group"] == TREATMENT) & (status["status"] == "scheduled"))
        .fillna(False)
        .astype(bool)
    )
    frame["propensity"] = frame["assignment_probability"].astype(float) * (1 - held_out_share)
    frame = frame[(frame["propensity"] > 0) & ~frame["dropped"]]
    frame = frame.drop(columns=["status", "dropped"]).merge(
        churned[["customer_id", "churned"]], on="customer_id", how="inner"
    )
    return frame[frame["churned"].notna()].reset_index(drop=True)


def _held_out_share(tasks: pd.DataFrame, campaign: str) -> float:
    """The holdout's share: every task outside the owed calls is held out by the same
    hash draw, so their share estimates it closely."""
    drawn = tasks[~tasks["action"].isin(OWED)]
    share = float((drawn["group"] == HOLDOUT).mean()) if len(drawn) else 0.0
    if share <= 0 or share >= 1:
        raise DataError(
            f"campaign {campaign}: held-out share of its tasks is {share:.0%}; valuing a "
            "targeting rule needs customers both called and held out"
        )
    return share


def _beyond_capacity(retention: pd.DataFrame) -> set[str]:
    """Customers whose call never depended on chance: treatment tasks over capacity, and
    the rules' held-out picks the schedule would have placed after the last call each queue
    made (had they been drawn into treatment, they would not have fitted either): its order
    is priority, then expected value."""
    over = retention["status"] == "over_capacity"
    beyond = set(retention.index[over])
    explored = retention.get("exploration", pd.Series(False, index=retention.index))
    for _, rows in retention[~explored.astype(bool)].groupby("queue"):
        if not (rows["status"] == "over_capacity").any():
            continue
        made = rows.loc[(rows["group"] == TREATMENT) & (rows["status"] == "scheduled")]
        held = rows[rows["group"] == HOLDOUT]
        if made.empty:
            beyond |= set(held.index)
            continue
        last = made.sort_values(["priority", "expected_value"], ascending=[True, False]).iloc[-1]
        after = (held["priority"] > last["priority"]) | (
            (held["priority"] == last["priority"])
            & (held["expected_value"] < last["expected_value"])
        )
        beyond |= set(held.index[after])
    return beyond


def dr_scores(support: pd.DataFrame, churn_if_not_called, churn_if_called) -> np.ndarray:
    """Per customer of the support, the doubly-robust estimate of the churn a call takes
    away (Γ in the module's docstring); μ₀ and μ₁ may come from any outcome model."""
    called = support["called"].to_numpy(dtype=bool)
    propensity = support["propensity"].to_numpy(dtype=float)
    outcome = support["churned"].to_numpy(dtype=float)
    mu0 = np.asarray(churn_if_not_called, dtype=float)
    mu1 = np.asarray(churn_if_called, dtype=float)
    if np.any((propensity <= 0) | (propensity >= 1)):
        raise DataError("assignment probabilities must lie strictly between 0 and 1")
    correction = np.where(called, -(outcome - mu1) / propensity, (outcome - mu0) / (1 - propensity))
    return (mu0 - mu1) + correction


def top_calls(score, calls: int) -> np.ndarray:
    """The rule "call the `calls` customers with the highest score" as a mask (stable
    order among ties)."""
    score = np.asarray(score, dtype=float)
    chosen = np.zeros(len(score), dtype=bool)
    chosen[np.argsort(-score, kind="stable")[:calls]] = True
    return chosen


def policy_value(
    name: str,
    gamma: np.ndarray,
    chosen: np.ndarray,
    confidence: float = 0.95,
    clusters: np.ndarray | None = None,
    support: pd.DataFrame | None = None,
) -> PolicyValue:
    """Customers kept per 1,000 calls by calling the `chosen` customers of the support.
    `clusters` (the customer ids, when campaigns are pooled) keeps a customer's rows of
    several campaigns together in the interval. With the `support` (its `called` and
    `propensity`), the value says how many effective customers it rests on and has no
    interval below `MIN_EFFECTIVE_CUSTOMERS`. NaN when the rule calls nobody."""
    chosen = np.asarray(chosen, dtype=bool)
    calls = int(chosen.sum())
    if calls == 0:
        return PolicyValue(name, 0, len(gamma), np.nan, np.nan, np.nan, 0.0)
    influence = len(gamma) / calls * np.where(chosen, gamma, 0.0)
    estimate, low, high = _mean_interval(influence, confidence, clusters)
    effective = effective_customers(support, chosen)
    if effective < MIN_EFFECTIVE_CUSTOMERS:
        low = high = np.nan
    return PolicyValue(name, calls, len(gamma), 1000 * estimate, 1000 * low, 1000 * high, effective)


def policy_difference(
    gamma: np.ndarray,
    chosen: np.ndarray,
    reference: np.ndarray,
    confidence: float = 0.95,
    clusters: np.ndarray | None = None,
    support: pd.DataFrame | None = None,
) -> PolicyDifference:
    """Kept per 1,000 calls by `chosen` minus by `reference` (same number of calls), on
    the same Γ; `clusters` and `support` as for `policy_value` (the effective customers
    are those the two rules do not share: the difference rests on them alone)."""
    chosen, reference = np.asarray(chosen, bool), np.asarray(reference, bool)
    calls = int(chosen.sum())
    if calls == 0 or calls != int(reference.sum()):
        raise DataError(
            f"policies compared at different numbers of calls ({calls:,} and "
            f"{int(reference.sum()):,})"
        )
    influence = len(gamma) / calls * gamma * (chosen.astype(float) - reference.astype(float))
    estimate, low, high = _mean_interval(influence, confidence, clusters)
    effective = effective_customers(support, chosen != reference)
    if effective < MIN_EFFECTIVE_CUSTOMERS:
        low = high = np.nan
    return PolicyDifference(1000 * estimate, 1000 * low, 1000 * high, effective)


def effective_customers(support: pd.DataFrame | None, counted: np.ndarray) -> float:
    """Kish's effective sample size of the inverse-probability weights among the `counted`
    customers of the support, the fewer of the called arm's (1/e) and the not-called
    arm's (1/(1 − e)); infinite when no support is given (nothing to check)."""
    if support is None:
        return np.inf
    called = support["called"].to_numpy(dtype=bool)[counted]
    propensity = support["propensity"].to_numpy(dtype=float)[counted]
    sizes = []
    for weights in (1 / propensity[called], 1 / (1 - propensity[~called])):
        squares = float(np.sum(weights**2))
        sizes.append(float(np.sum(weights)) ** 2 / squares if squares > 0 else 0.0)
    return min(sizes)


def _mean_interval(
    influence: np.ndarray, confidence: float, clusters: np.ndarray | None = None
) -> tuple[float, float, float]:
    """The mean of the influence values and its normal interval; with `clusters`, the
    variance of cluster sums (rows of one customer in several campaigns are not
    independent draws)."""
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    n, mean = len(influence), float(np.mean(influence))
    if clusters is None:
        half = z * float(np.std(influence, ddof=1)) / np.sqrt(n)
        return mean, mean - half, mean + half
    frame = pd.DataFrame({"cluster": clusters, "value": influence - mean})
    sums = frame.groupby("cluster", sort=False)["value"].sum().to_numpy()
    count = len(sums)
    variance = float(np.sum(sums**2)) / n**2 * count / max(count - 1, 1)
    half = z * np.sqrt(variance)
    return mean, mean - half, mean + half
