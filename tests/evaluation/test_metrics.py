"""Metrics on cases small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.metrics import (
    binary_metrics,
    calibration_slope_intercept,
    expected_calibration_error,
    headroom_share,
    lift_and_capture,
    not_leaving,
    served_precision_at_1,
    subgroup_ranking_metrics,
)


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
            "calibration_slope",
            "calibration_intercept",
            "lift_at_10pct",
            "capture_at_10pct",
        )
    }
    assert metrics["baseline_rule_roc_auc"] == pytest.approx(0.75)


def _logit(p):
    return np.log(p / (1 - p))


@pytest.mark.parametrize(("slope", "intercept"), [(1.0, 0.0), (0.6, -0.4), (1.5, 0.3)])
def test_calibration_slope_and_intercept_of_a_known_recalibration(slope, intercept):
    # Outcomes drawn from σ(intercept + slope · logit(score)): the fit must find both back.
    rng = np.random.default_rng(3)
    scores = rng.uniform(0.01, 0.6, 200_000)
    truth = 1 / (1 + np.exp(-(intercept + slope * _logit(scores))))
    labels = (rng.uniform(0, 1, scores.size) < truth).astype(float)
    fitted_slope, fitted_intercept = calibration_slope_intercept(labels, scores)
    assert fitted_slope == pytest.approx(slope, abs=0.03)
    assert fitted_intercept == pytest.approx(intercept, abs=0.04)


def test_calibration_slope_by_hand_and_when_not_measurable():
    # Two scores, each realised at exactly its own rate: calibrated, slope 1 and intercept 0
    # (the fit is exact: two points, two parameters).
    labels = np.array([1] + [0] * 9 + [1] * 3 + [0])
    scores = np.array([0.1] * 10 + [0.75] * 4)
    slope, intercept = calibration_slope_intercept(labels, scores)
    assert slope == pytest.approx(1.0, abs=1e-6) and intercept == pytest.approx(0.0, abs=1e-6)
    # Rates 0.1 and 0.75 realised from scores 0.2 and 0.5: slope = Δlogit(rate) ÷ Δlogit(score).
    moved = np.array([0.2] * 10 + [0.5] * 4)
    slope, intercept = calibration_slope_intercept(labels, moved)
    expected = (_logit(0.75) - _logit(0.1)) / (_logit(0.5) - _logit(0.2))
    assert slope == pytest.approx(expected, abs=1e-6)
    assert intercept == pytest.approx(_logit(0.75) - expected * _logit(0.5), abs=1e-6)
    one_class = calibration_slope_intercept(np.zeros(5), np.linspace(0.1, 0.5, 5))
    separated = calibration_slope_intercept(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4]))
    assert all(np.isnan(one_class)) and all(np.isnan(separated))


def test_headroom_share_and_its_degenerate_cases():
    assert headroom_share(0.92, 0.90, 0.94).share == pytest.approx(0.5)
    assert headroom_share(0.94, 0.90, 0.94).share == pytest.approx(1.0)
    assert headroom_share(0.88, 0.90, 0.94).share == pytest.approx(-0.5)  # worse than logistic
    level = headroom_share(0.92, 0.94, 0.94)
    assert np.isnan(level.share) and "no headroom" in level.reason
    below = headroom_share(0.92, 0.95, 0.94)
    assert np.isnan(below.share) and "0.950" in below.reason
    no_oracle = headroom_share(0.92, 0.90, float("nan"))
    assert np.isnan(no_oracle.share) and "oracle" in no_oracle.reason
    assert headroom_share(0.92, 0.90, 0.94).reason == ""


def test_not_leaving_mask_and_the_metrics_on_it():
    leaving = np.array([True, False, False, True, False, False])
    keep = not_leaving(leaving)
    np.testing.assert_array_equal(keep, [False, True, True, False, True, True])
    labels = np.array([1, 0, 1, 1, 0, 1])
    # Kept rows: labels 0, 1, 0, 1 with scores 0.2, 0.3, 0.4, 0.1: of the 4 (positive,
    # negative) pairs, only (0.3 > 0.2) is ranked right: AUC 1/4. The leavers' high scores
    # (0.9, 0.8) would make the AUC on all rows look good.
    scores = np.array([0.9, 0.2, 0.3, 0.8, 0.4, 0.1])
    metrics = subgroup_ranking_metrics(labels, scores, keep, "not_leaving", prefix="oracle_")
    assert set(metrics) == {"oracle_not_leaving_roc_auc", "oracle_not_leaving_pr_auc"}
    assert metrics["oracle_not_leaving_roc_auc"] == pytest.approx(0.25)
    # PR AUC (average precision): ranked 0.4 (neg), 0.3 (pos), 0.2 (neg), 0.1 (pos):
    # precision at the two positives 1/2 and 2/4.
    assert metrics["oracle_not_leaving_pr_auc"] == pytest.approx(0.5)
    one_class = subgroup_ranking_metrics(labels, scores, labels == 1, "not_leaving")
    assert np.isnan(one_class["not_leaving_roc_auc"])
    with pytest.raises(ValueError, match="leaving"):
        not_leaving(np.array([True, None, False], dtype=object))


def test_served_precision_at_1_by_hand():
    nan = np.nan
    # Three products A, B, C with margins 100, 10, 1000; four customers.
    labels = np.array(
        [
            [1, 0, 0],  # opened A
            [0, 1, nan],  # opened B; holds C
            [0, 0, 1],  # opened C, which is not suitable for them
            [0, 0, 0],  # opened nothing: not judged
        ]
    )
    scores = np.array(
        [
            [0.30, 0.50, 0.01],  # values 30, 5, 10: A served, a hit
            [0.05, 0.90, 0.99],  # C held: values 5, 9: B served, a hit
            [0.20, 0.10, 0.90],  # C unsuitable: values 20, 1: A served, a miss
            [0.90, 0.10, 0.10],
        ]
    )
    suitable = np.array([[True, True, True], [True, True, True], [True, True, False], [True] * 3])
    margin = np.array([100.0, 10.0, 1000.0])
    metrics = served_precision_at_1(labels, scores, margin, suitable, prefix="x_")
    assert metrics["x_served_customers"] == 3
    assert metrics["x_served_precision_at_1"] == pytest.approx(2 / 3)
    # Offers A (hit), B (hit), A (miss): margin 110 realised of 210 offered.
    assert metrics["x_served_margin_precision_at_1"] == pytest.approx(110 / 210)
    # With equal margins the ranking is by propensity: B (miss), B (hit), A (miss).
    flat = served_precision_at_1(labels, scores, np.ones(3), suitable)
    assert flat["served_precision_at_1"] == pytest.approx(1 / 3)
    assert flat["served_margin_precision_at_1"] == pytest.approx(1 / 3)
    # Without the suitability rule the third customer gets C (value 900) and opens it.
    unfiltered = served_precision_at_1(labels, scores, margin, np.ones_like(suitable))
    assert unfiltered["served_precision_at_1"] == pytest.approx(1.0)
    nothing = served_precision_at_1(labels, scores, margin, np.zeros_like(suitable))
    assert nothing["served_customers"] == 0 and np.isnan(nothing["served_precision_at_1"])
