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
