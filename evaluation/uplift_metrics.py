"""How well does a score pick the customers a call changes? Uplift metrics for a randomised
campaign (some customers called, a random held-out group not).

Inputs, one entry per customer:

- `outcome`: 0/1, 1 = the GOOD outcome (e.g. retained; pass ``1 - churned``),
- `treated`: True (or 1) if called, False (or 0) if held out,
- `score`: predicted uplift, higher = target first.

Customers are taken in descending score order, and the curves have one point per distinct
score (equal scores form one group that is targeted all at once, as sklearn's `roc_curve`
thresholds and scikit-uplift's curves do), so the order of tied rows cannot change them.

Normalisation (ours, so that campaigns of different sizes compare): with N customers in
all, the x-axis is the share of all customers targeted, k / N, and the y-axis is divided by
N. Each curve starts at (0, 0) and ends at x = 1. Areas are trapezoidal and reported above
the random-targeting line from (0, 0) to the curve's end point, so 0 = no better than
random, > 0 better, < 0 worse. Both axes are scaled by 1/N, so an area here is
scikit-uplift's area (on its unnormalised curves) divided by N².

Sources: Radcliffe (2007), "Using control groups to target on predicted lift", DMA
Analytics Journal (the Qini curve and coefficient); Gutierrez & Gérardy (2017), "Causal
inference and uplift modelling: a review of the literature", PMLR 67 (uplift curve, AUUC);
scikit-uplift 0.5.1 `sklift.metrics` (the same curves, whose numbers the tests pin).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "auuc",
    "bootstrap_metrics",
    "qini_coefficient",
    "qini_curve",
    "uplift_at_k",
    "uplift_curve",
]


def qini_curve(outcome, treated, score) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve (Radcliffe 2007), normalised: returns (targeted_share, qini).

    After targeting the top k customers, Q(k) = Y_t(k) − Y_c(k) · N_t(k) / N_c(k): the good
    outcomes among the treated, less those the held-out rate predicts for that many treated
    customers, i.e. the incremental good outcomes counted in the treated group's scale.
    Returned as targeted_share = k / N and qini = Q(k) / N. With no held-out customer yet
    among the top k, Y_c(k) = 0 and the correction counts as 0 (as in scikit-uplift). The
    end point Q(N) / N equals (N_t / N) · (treated rate − held-out rate).

    Equals scikit-uplift's `qini_curve` divided by N on both axes.
    """
    outcome, treated, score = _validated(outcome, treated, score)
    n_all, n_t, y_t, n_c, y_c = _cumulative_counts(outcome, treated, score)
    ratio = np.divide(n_t, n_c, out=np.zeros(n_t.size), where=n_c > 0)
    qini = y_t - y_c * ratio
    n = outcome.size
    return np.r_[0.0, n_all / n], np.r_[0.0, qini / n]


def qini_coefficient(outcome, treated, score) -> float:
    """Area between the normalised Qini curve and the random-targeting line from (0, 0) to
    (1, Q(N) / N), trapezoidal (Radcliffe 2007). Positive = better than random.

    Relation to scikit-uplift 0.5.1: ``qini_coefficient × N²`` is its area between
    `qini_curve` and that line; its `qini_auc_score(y, s, t)` divides that by the same area
    for the perfect score, so it equals ``qini_coefficient(y, t, s) /
    qini_coefficient(y, t, perfect)`` with ``perfect = y·t − y·(1 − t)`` (treated good
    outcomes first, held-out good outcomes last: its default negative_effect=True).
    """
    return _area_above_random(*qini_curve(outcome, treated, score))


def uplift_curve(outcome, treated, score) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve, "uplift by cumulative group" (Gutierrez & Gérardy 2017), normalised:
    returns (targeted_share, uplift).

    After targeting the top k customers, U(k) = (Y_t(k) / N_t(k) − Y_c(k) / N_c(k)) · k:
    the difference in good-outcome rate between treated and held out among them, scaled to
    all k targeted. Returned as targeted_share = k / N and uplift = U(k) / N. A group still
    empty among the top k has its rate counted as 0 (as in scikit-uplift). The end point
    U(N) / N is the overall treated − held-out rate difference.

    Equals scikit-uplift's `uplift_curve` divided by N on both axes.
    """
    outcome, treated, score = _validated(outcome, treated, score)
    n_all, n_t, y_t, n_c, y_c = _cumulative_counts(outcome, treated, score)
    rate_t = np.divide(y_t, n_t, out=np.zeros(n_t.size), where=n_t > 0)
    rate_c = np.divide(y_c, n_c, out=np.zeros(n_c.size), where=n_c > 0)
    n = outcome.size
    return np.r_[0.0, n_all / n], np.r_[0.0, (rate_t - rate_c) * n_all / n]


def auuc(outcome, treated, score) -> float:
    """Area under the normalised uplift curve minus the area under the random-targeting
    line from (0, 0) to (1, U(N) / N), trapezoidal. Positive = better than random.

    Relation to scikit-uplift 0.5.1: ``auuc × N²`` is its area between `uplift_curve` and
    that line; its `uplift_auc_score(y, s, t)` divides that by the same area for its perfect
    score, so it equals ``auuc(y, t, s) / auuc(y, t, perfect)`` with ``perfect =
    2·(y == t) + (y if #(held-out good) > #(treated bad) else t)``.
    """
    return _area_above_random(*uplift_curve(outcome, treated, score))


def uplift_at_k(outcome, treated, score, share: float) -> float:
    """Good-outcome rate of the treated minus that of the held out, among the top `share`
    of all customers by score (scikit-uplift's `uplift_at_k`, strategy="overall").

    The top is the first floor(share · N) customers (scikit-uplift's int(share · N), except
    that share · N within 1e-9 of a whole number counts as that number, so 0.29 of 100 is
    29, not 28). Equal scores at the cut-off are taken in row order (scikit-uplift takes the
    later rows first). NaN if the top holds no treated or no held-out customer.
    """
    outcome, treated, score = _validated(outcome, treated, score)
    if isinstance(share, bool) or not isinstance(share, int | float | np.number):
        raise ValueError(f"share must be a number in (0, 1], got {share!r}")
    if not 0 < share <= 1:  # also rejects NaN
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    top = math.floor(share * outcome.size + 1e-9)
    chosen = np.argsort(-score, kind="stable")[:top]
    called, held_out = chosen[treated[chosen]], chosen[~treated[chosen]]
    if called.size == 0 or held_out.size == 0:
        return float("nan")
    return float(outcome[called].mean() - outcome[held_out].mean())


def bootstrap_metrics(
    outcome,
    treated,
    scores: dict[str, np.ndarray],
    metrics: dict[str, Callable],
    draws: int = 200,
    seed: int = 0,
) -> dict[tuple[str, str], np.ndarray]:
    """Each metric of each score on `draws` bootstrap resamples of the customers, drawn
    within each arm (the called and the held out keep their sizes, as the design fixed
    them), the same resample for every score, so a difference of two scores' metrics is
    paired: take percentiles of the returned draws for intervals, of their differences for
    the interval of a difference.

    Returns:
        {(score name, metric name): the metric's value on every resample}.
    """
    outcome, treated, _ = _validated(outcome, treated, next(iter(scores.values())))
    rng = np.random.default_rng(seed)
    arms = [np.flatnonzero(treated), np.flatnonzero(~treated)]
    values = {(name, metric): np.empty(draws) for name in scores for metric in metrics}
    for draw in range(draws):
        rows = np.concatenate([rng.choice(arm, size=arm.size, replace=True) for arm in arms])
        for name, score in scores.items():
            score = np.asarray(score, dtype=float)[rows]
            for metric, compute in metrics.items():
                values[name, metric][draw] = compute(outcome[rows], treated[rows], score)
    return values


def _validated(outcome, treated, score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three arrays as int 0/1, bool and float, or a ValueError naming what is wrong."""
    arrays = {"outcome": np.asarray(outcome), "treated": np.asarray(treated)}
    arrays["score"] = np.asarray(score)
    for name, values in arrays.items():
        if values.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {values.shape}")
    lengths = {name: values.size for name, values in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"outcome, treated and score must have the same length, got {lengths}")
    outcome = _zero_one(arrays["outcome"], "outcome").astype(np.int64)
    treated = _zero_one(arrays["treated"], "treated").astype(bool)
    try:
        score = arrays["score"].astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"score must be numbers, got dtype {arrays['score'].dtype}") from None
    if np.isnan(score).any():
        at = int(np.flatnonzero(np.isnan(score))[0])
        raise ValueError(f"score must not be NaN, got NaN at position {at}")
    if not treated.any():
        raise ValueError("treated has no treated (called) customer: all values are False")
    if treated.all():
        raise ValueError("treated has no held-out customer: all values are True")
    return outcome, treated, score


def _zero_one(values: np.ndarray, name: str) -> np.ndarray:
    try:
        as_float = values.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 0 or 1, got dtype {values.dtype}") from None
    bad = ~np.isin(as_float, (0.0, 1.0))  # NaN is bad too
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        value = values.tolist()[at]  # a plain Python value reads better than np.int64(2)
        raise ValueError(
            f"{name} must be 0 or 1 for every customer, got {value!r} at position {at}"
        )
    return as_float


def _cumulative_counts(
    outcome: np.ndarray, treated: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, ...]:
    """At each cut-off after a group of equal scores (descending): customers targeted, and
    treated count, treated good outcomes, held-out count, held-out good outcomes among them."""
    order = np.argsort(-score, kind="stable")
    sorted_score, outcome, treated = score[order], outcome[order], treated[order]
    # Compare with != rather than np.diff, which turns equal infinities into NaN.
    last_of_group = np.r_[sorted_score[1:] != sorted_score[:-1], True]
    cut = np.flatnonzero(last_of_group)
    n_t = np.cumsum(treated)[cut]
    y_t = np.cumsum(outcome * treated)[cut]
    n_c = np.cumsum(~treated)[cut]
    y_c = np.cumsum(outcome * ~treated)[cut]
    return cut + 1, n_t, y_t, n_c, y_c


def _area_above_random(share: np.ndarray, values: np.ndarray) -> float:
    """Trapezoidal area under the curve minus that under the straight line from (0, 0) to
    its end point (1, values[-1])."""
    area = np.sum(np.diff(share) * (values[1:] + values[:-1])) / 2
    return float(area - values[-1] / 2)
