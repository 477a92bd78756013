"""Metrics on cases small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.metrics import binary_metrics, expected_calibration_error, lift_and_capture


def test_lift_and_capture_by_hand():
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1] * 2)  # 4 positives in 20
    scores = np.linspace(1, 0, 20)  # first of each ten ranked first
    lift, capture = lift_and_capture(labels, scores, share=0.1)  # top 2: rows 0 and 1
    assert capture == pytest.approx(1 / 4)
    assert lift == pytest.approx((1 / 2) / (4 / 20))


def test_perfectly_calibrated_scores_have_no_calibration_error():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 200_000)
    labels = rng.uniform(0, 1, scores.size) < scores
    assert expected_calibration_error(labels, scores) < 0.01
    assert expected_calibration_error(labels, np.clip(scores * 0.5, 0, 1)) > 0.2


def test_binary_metrics_keys_and_prefix():
    labels = np.array([0, 0, 1, 1])
    metrics = binary_metrics(labels, np.array([0.1, 0.4, 0.35, 0.8]), prefix="baseline_rule_")
    assert set(metrics) == {
        f"baseline_rule_{k}"
        for k in (
            "roc_auc",
            "pr_auc",
            "log_loss",
            "brier",
            "ece",
            "lift_at_10pct",
            "capture_at_10pct",
        )
    }
    assert metrics["baseline_rule_roc_auc"] == pytest.approx(0.75)


def test_population_stability_sees_a_shift_and_not_noise():
    import pandas as pd

    from training.report import population_stability

    rng = np.random.default_rng(1)
    train = pd.DataFrame(
        {"x": rng.normal(0, 1, 20_000), "c": pd.Categorical(rng.choice(["a", "b"], 20_000))}
    )
    same = pd.DataFrame(
        {"x": rng.normal(0, 1, 20_000), "c": pd.Categorical(rng.choice(["a", "b"], 20_000))}
    )
    shifted = pd.DataFrame(
        {
            "x": rng.normal(1.5, 1, 20_000),
            "c": pd.Categorical(rng.choice(["a", "b"], 20_000, p=[0.9, 0.1])),
        }
    )
    stable = population_stability(train, same, ["x", "c"]).set_index("feature")["psi"]
    moved = population_stability(train, shifted, ["x", "c"]).set_index("feature")["psi"]
    assert stable.max() < 0.01
    assert moved["x"] > 0.25 and moved["c"] > 0.25
