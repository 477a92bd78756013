"""Evaluation metrics for probability scores, as a bank reads them."""

from __future__ import annotations

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


def binary_metrics(labels: np.ndarray, scores: np.ndarray, prefix: str = "") -> dict[str, float]:
    """The metric set every binary model logs (`roc_auc`, `pr_auc`, `log_loss`, `brier`,
    `ece`, `lift_at_10pct`, `capture_at_10pct`), keys prefixed for baselines."""
    labels = np.asarray(labels, dtype=float)
    scores = np.clip(np.asarray(scores, dtype=float), 1e-7, 1 - 1e-7)
    lift, capture = lift_and_capture(labels, scores)
    values = {
        "roc_auc": roc_auc_score(labels, scores),
        "pr_auc": average_precision_score(labels, scores),
        "log_loss": log_loss(labels, scores, labels=[0, 1]),
        "brier": brier_score_loss(labels, scores),
        "ece": expected_calibration_error(labels, scores),
        "lift_at_10pct": lift,
        "capture_at_10pct": capture,
    }
    return {f"{prefix}{key}": float(value) for key, value in values.items()}


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
