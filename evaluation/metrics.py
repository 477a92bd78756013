"""Evaluation metrics for probability scores, as a bank reads them.

Every function takes arrays (one entry per row, or customers × products for rankings) and
returns plain floats or a dict of them; a metric that cannot be measured on the rows given
(one class only, nothing on offer) is NaN, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """Mean gap between predicted and realised rates over equal-count score bins, weighted
    by bin size. Equal-count bins, because churn scores crowd near zero."""
    order = np.argsort(scores, kind="stable")
    gaps = [
        len(chunk) * abs(scores[chunk].mean() - labels[chunk].mean())
        for chunk in np.array_split(order, bins)
        if len(chunk)
    ]
    return float(np.sum(gaps) / len(scores))


def lift_and_capture(
    labels: np.ndarray, scores: np.ndarray, share: float = 0.1
) -> tuple[float, float]:
    """Lift and capture of the top `share` by score: how much richer in positives the called
    list is than random, and which share of all positives it reaches."""
    top = max(1, int(round(share * len(scores))))
    chosen = np.argsort(-scores, kind="stable")[:top]
    positives = labels.sum()
    if positives == 0:
        return float("nan"), float("nan")
    rate_top = labels[chosen].mean()
    return float(rate_top / labels.mean()), float(labels[chosen].sum() / positives)


def calibration_slope_intercept(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Logistic recalibration: the maximum-likelihood fit of
    P(label = 1) = σ(intercept + slope · logit(score)).

    Calibrated scores give slope 1 and intercept 0. A slope below 1 says the scores are too
    extreme (high ones too high, low ones too low: over-fitting), above 1 too timid; the
    intercept (at that slope) says whether they run high (< 0) or low (> 0). ECE alone says
    little at a 2 % base rate, where every score is near zero; the slope reads the spread.

    Args:
        labels: 0/1 outcomes.
        scores: probabilities; clipped to [1e-7, 1 − 1e-7] so logit is finite.

    Returns:
        (slope, intercept); NaN for both with one class only or when the scores separate the
        classes perfectly (the fit then has no finite maximum).
    """
    y = np.asarray(labels, dtype=float)
    p = np.clip(np.asarray(scores, dtype=float), 1e-7, 1 - 1e-7)
    if len(y) == 0 or y.min() == y.max():
        return float("nan"), float("nan")
    design = np.column_stack([np.ones_like(p), np.log(p / (1 - p))])
    beta = np.array([0.0, 1.0])  # start at "calibrated"
    for _ in range(100):
        eta = np.clip(design @ beta, -35, 35)
        fitted = 1 / (1 + np.exp(-eta))
        weight = fitted * (1 - fitted)
        hessian = design.T @ (design * weight[:, None])
        gradient = design.T @ (y - fitted)
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return float("nan"), float("nan")
        beta = beta + step
        if np.max(np.abs(step)) < 1e-9:
            return float(beta[1]), float(beta[0])
    return float("nan"), float("nan")  # no convergence: (quasi-)separated classes


def binary_metrics(labels: np.ndarray, scores: np.ndarray, prefix: str = "") -> dict[str, float]:
    """The metric set every binary model logs (`roc_auc`, `pr_auc`, `log_loss`, `brier`,
    `ece`, `calibration_slope`, `calibration_intercept`, `lift_at_10pct`,
    `capture_at_10pct`), keys prefixed for baselines."""
    labels = np.asarray(labels, dtype=float)
    scores = np.clip(np.asarray(scores, dtype=float), 1e-7, 1 - 1e-7)
    lift, capture = lift_and_capture(labels, scores)
    slope, intercept = calibration_slope_intercept(labels, scores)
    values = {
        "roc_auc": roc_auc_score(labels, scores),
        "pr_auc": average_precision_score(labels, scores),
        "log_loss": log_loss(labels, scores, labels=[0, 1]),
        "brier": brier_score_loss(labels, scores),
        "ece": expected_calibration_error(labels, scores),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "lift_at_10pct": lift,
        "capture_at_10pct": capture,
    }
    return {f"{prefix}{key}": float(value) for key, value in values.items()}


def subgroup_ranking_metrics(
    labels: np.ndarray, scores: np.ndarray, keep: np.ndarray, group: str, prefix: str = ""
) -> dict[str, float]:
    """ROC AUC and PR AUC on the rows `keep` marks: `<prefix><group>_roc_auc`,
    `<prefix><group>_pr_auc` (NaN when those rows hold one class only)."""
    keep = np.asarray(keep, dtype=bool)
    y = np.asarray(labels, dtype=float)[keep]
    s = np.asarray(scores, dtype=float)[keep]
    both = len(y) > 0 and y.min() != y.max()
    nan = float("nan")
    return {
        f"{prefix}{group}_roc_auc": float(roc_auc_score(y, s)) if both else nan,
        f"{prefix}{group}_pr_auc": float(average_precision_score(y, s)) if both else nan,
    }


def not_leaving(leaving: np.ndarray) -> np.ndarray:
    """The rows of customers who had not yet decided to leave at the as-of date: a model that
    ranks them well finds churn before it shows, not customers already on their way out.

    Args:
        leaving: the truth's `leaving` flag per row (True: already counting down).

    Raises:
        ValueError: If a flag is missing: a row the truth does not know cannot be judged.
    """
    flags = np.asarray(leaving, dtype=object)
    missing = np.array([value is None or value != value for value in flags], dtype=bool)
    if missing.any():
        raise ValueError(f"truth `leaving`: {int(missing.sum())} rows without a flag")
    return ~flags.astype(bool)


@dataclass(frozen=True)
class Headroom:
    """Which share of the room between the logistic baseline and the oracle a model took."""

    share: float  # NaN when not measurable; `reason` then says why
    reason: str = ""


def headroom_share(model: float, logistic: float, oracle: float) -> Headroom:
    """(model − logistic) ÷ (oracle − logistic), on one metric (ROC AUC in Retain).

    1 = the model reaches the oracle, 0 = no better than the logistic regression, negative =
    worse than it; above 1 only by sampling noise (the oracle is the truth itself).

    Returns:
        The share, or NaN with the reason when a value is missing (no oracle) or the oracle
        is not above the logistic baseline (there is no headroom to share).
    """
    if any(value != value for value in (model, logistic, oracle)):
        return Headroom(float("nan"), "no oracle score (needs the synthetic truth)")
    if oracle <= logistic:
        return Headroom(
            float("nan"),
            f"the logistic baseline ({logistic:.3f}) is not below the oracle ({oracle:.3f}): "
            "no headroom to share",
        )
    return Headroom(float((model - logistic) / (oracle - logistic)))


def served_precision_at_1(
    labels: np.ndarray,
    scores: np.ndarray,
    margin: np.ndarray,
    suitable: np.ndarray,
    prefix: str = "",
) -> dict[str, float]:
    """The one offer serving makes: the suitable product not held with the highest expected
    value (propensity × margin), judged against what the customer opened.

    Over customers who opened at least one product on offer (as `ranking_metrics`) and have
    a suitable one to be offered: `served_precision_at_1` = share whose offer they opened;
    `served_margin_precision_at_1` = the same with each offer weighted by its margin,
    Σ margin × hit ÷ Σ margin (a hit on a mortgage counts more than one on a card);
    `served_customers` = how many were judged. A buyer of only unsuitable products still
    counts: serving could never have offered what they bought.

    Args:
        labels: customers × products: 1 opened, 0 not, NaN not on offer (held).
        scores: the same shape; NaN is never offered.
        margin: per product, the value of one sale.
        suitable: customers × products, True where the suitability rule allows the offer.
        prefix: put before each key.
    """
    labels = np.asarray(labels, dtype=float)
    scores = np.asarray(scores, dtype=float)
    margin = np.asarray(margin, dtype=float)
    offerable = ~np.isnan(labels) & ~np.isnan(scores) & np.asarray(suitable, dtype=bool)
    value = np.where(offerable, np.nan_to_num(scores) * margin[None, :], -np.inf)
    judged = (np.nan_to_num(labels) > 0).any(axis=1) & offerable.any(axis=1)
    keys = ("served_precision_at_1", "served_margin_precision_at_1", "served_customers")
    if not judged.any():
        return dict(zip([prefix + k for k in keys], (float("nan"),) * 2 + (0.0,), strict=True))
    best = np.argmax(value[judged], axis=1)  # ties: the first in catalogue order
    hit = np.take_along_axis(np.nan_to_num(labels[judged]), best[:, None], axis=1)[:, 0] > 0
    weight = margin[best]
    weighted = float((weight * hit).sum() / weight.sum()) if weight.sum() > 0 else float("nan")
    return dict(
        zip(
            [prefix + k for k in keys],
            (float(hit.mean()), weighted, float(judged.sum())),
            strict=True,
        )
    )


def ranking_metrics(
    labels: np.ndarray, scores: np.ndarray, prefix: str = "", k_map: int = 7, k_top: int = 3
) -> dict[str, float]:
    """Cross-sell ranking quality over customers (rows) and products (columns).

    `labels` is 1 where the customer opened the product within the horizon, 0 where not,
    NaN where the product was not on offer (already held); `scores` NaN the same way is
    never ranked. Averages are over customers who opened at least one product, as in the
    Santander competition's MAP@7 but without the customers who bought nothing (their
    precision is 0 for any ranking, so they only dilute the comparison).

    Returns `map_at_7`, `precision_at_3`, `recall_at_3` and `customers_ranked`.
    """
    labels = np.asarray(labels, dtype=float)
    scores = np.where(np.isnan(labels), np.nan, np.asarray(scores, dtype=float))
    relevant = np.nan_to_num(labels) > 0
    buyers = relevant.any(axis=1)
    if not buyers.any():
        nan = float("nan")
        return {
            f"{prefix}map_at_{k_map}": nan,
            f"{prefix}precision_at_{k_top}": nan,
            f"{prefix}recall_at_{k_top}": nan,
            f"{prefix}customers_ranked": 0.0,
        }
    relevant, ranked_scores = relevant[buyers], scores[buyers]
    # Unrankable products sort last; ties keep catalogue order (stable).
    order = np.argsort(-np.nan_to_num(ranked_scores, nan=-np.inf), axis=1, kind="stable")
    hits = np.take_along_axis(relevant, order, axis=1)
    hits &= np.take_along_axis(~np.isnan(ranked_scores), order, axis=1)
    opened = relevant.sum(axis=1)
    top = hits[:, :k_map]
    precision_at_rank = np.cumsum(top, axis=1) / np.arange(1, top.shape[1] + 1)
    average_precision = (precision_at_rank * top).sum(axis=1) / np.minimum(opened, k_map)
    return {
        f"{prefix}map_at_{k_map}": float(average_precision.mean()),
        f"{prefix}precision_at_{k_top}": float((hits[:, :k_top].sum(axis=1) / k_top).mean()),
        f"{prefix}recall_at_{k_top}": float((hits[:, :k_top].sum(axis=1) / opened).mean()),
        f"{prefix}customers_ranked": float(buyers.sum()),
    }
