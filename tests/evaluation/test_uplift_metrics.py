"""Uplift metrics on cases checked by hand, against scikit-uplift's numbers, and on a
simulated campaign whose true uplift is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.uplift_metrics import (
    auuc,
    qini_coefficient,
    qini_curve,
    uplift_at_k,
    uplift_curve,
)

# Eight customers, rows deliberately out of score order. Sorted by score they are:
#   score    0.9 0.8 0.7 0.7 0.5 0.4 0.3 0.2
#   treated   1   0   1   1   0   0   1   0
#   outcome   1   0   1   0   1   0   0   0
# The two 0.7s are one group, so there is no cut-off after 3 customers.
HAND_SCORE = np.array([0.4, 0.7, 0.9, 0.2, 0.7, 0.5, 0.8, 0.3])
HAND_TREATED = np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=bool)
HAND_OUTCOME = np.array([0, 0, 1, 0, 1, 1, 0, 0])
HAND_SHARE = np.array([0, 1, 2, 4, 5, 6, 7, 8]) / 8
# Q(k) = Y_t − Y_c · N_t / N_c after k customers, e.g. k = 5: 2 − 1 · 3/2 = 1/2;
# k = 1 has no held-out customer yet, so Q = Y_t = 1.
HAND_QINI = np.array([0, 1, 1, 2, 1 / 2, 1, 2 / 3, 1]) / 8
# U(k) = (Y_t / N_t − Y_c / N_c) · k, e.g. k = 4: (2/3 − 0) · 4; k = 7: (2/4 − 1/3) · 7.
HAND_UPLIFT = np.array([0, 1, 2, 8 / 3, 5 / 6, 2, 7 / 6, 2]) / 8


def test_qini_curve_by_hand():
    share, qini = qini_curve(HAND_OUTCOME, HAND_TREATED, HAND_SCORE)
    np.testing.assert_allclose(share, HAND_SHARE)
    np.testing.assert_allclose(qini, HAND_QINI)
    # The end point is (N_t / N) · (treated rate − held-out rate) = 4/8 · (2/4 − 1/4).
    assert qini[-1] == pytest.approx(4 / 8 * (2 / 4 - 1 / 4))


def test_uplift_curve_by_hand():
    share, uplift = uplift_curve(HAND_OUTCOME, HAND_TREATED, HAND_SCORE)
    np.testing.assert_allclose(share, HAND_SHARE)
    np.testing.assert_allclose(uplift, HAND_UPLIFT)
    assert uplift[-1] == pytest.approx(2 / 4 - 1 / 4)  # the overall rate difference


def test_areas_above_random_by_hand():
    # Qini: trapezoids sum to 98/768, the random line from (0, 0) to (1, 1/8) to 48/768.
    assert qini_coefficient(HAND_OUTCOME, HAND_TREATED, HAND_SCORE) == pytest.approx(50 / 768)
    # Uplift: trapezoids sum to 13/64, the random line to (1, 1/4) to 8/64.
    assert auuc(HAND_OUTCOME, HAND_TREATED, HAND_SCORE) == pytest.approx(5 / 64)


def test_row_order_and_order_among_ties_do_not_matter():
    rng = np.random.default_rng(3)
    for _ in range(5):
        rows = rng.permutation(HAND_SCORE.size)
        args = HAND_OUTCOME[rows], HAND_TREATED[rows], HAND_SCORE[rows]
        np.testing.assert_allclose(qini_curve(*args)[1], HAND_QINI)
        np.testing.assert_allclose(uplift_curve(*args)[1], HAND_UPLIFT)


def test_uplift_at_k_by_hand():
    args = HAND_OUTCOME, HAND_TREATED, HAND_SCORE
    assert uplift_at_k(*args, share=0.25) == pytest.approx(1 - 0)  # top 2: one of each
    assert uplift_at_k(*args, share=0.5) == pytest.approx(2 / 3 - 0)
    assert uplift_at_k(*args, share=0.75) == pytest.approx(2 / 3 - 1 / 3)
    assert uplift_at_k(*args, share=1.0) == pytest.approx(2 / 4 - 1 / 4)
    assert math.isnan(uplift_at_k(*args, share=0.125))  # top 1 is treated only
    assert math.isnan(uplift_at_k(*args, share=0.1))  # top 0 customers


def test_uplift_at_k_counts_the_share_without_float_error():
    # 0.29 * 100 is 28.999999999999996 in floating point; the top must still be 29.
    outcome = np.zeros(100, dtype=int)
    treated = np.arange(100) % 2 == 0
    outcome[28] = 1  # the 29th customer, treated: only counted if the top holds 29
    score = np.linspace(1, 0, 100)
    assert uplift_at_k(outcome, treated, score, share=0.29) == pytest.approx(1 / 15)
    assert uplift_at_k(outcome, treated, score, share=0.28) == 0


# A fixed campaign of 20 customers (ties at 0.12 and 0.02). The reference numbers were
# obtained from scikit-uplift 0.5.1 (with scikit-learn 1.9.1, numpy 2.4.6) on exactly these
# arrays: sklift.metrics.qini_curve, uplift_curve, qini_auc_score, uplift_auc_score and
# uplift_at_k(strategy="overall"), areas via sklearn.metrics.auc minus the baseline line.
REF_OUTCOME = np.array([1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0])
REF_TREATED = np.array([1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1])
REF_SCORE = np.array(
    [0.31, 0.12, -0.05, 0.44, 0.02, 0.27, 0.12, -0.18, 0.09, 0.38]
    + [-0.22, 0.12, 0.05, -0.09, 0.16, -0.31, 0.21, 0.56, 0.02, -0.01]
)
SKLIFT_CURVE_X = [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 14, 15, 16, 17, 18, 19, 20]
SKLIFT_QINI_Y = [
    0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 1.5, 1.0, -0.33333333333333304, -1.0,
    -0.33333333333333304, -1.0, -1.4285714285714288, -2.1428571428571432, -1.25,
    -0.5555555555555554, -1.0,
]  # fmt: skip
SKLIFT_UPLIFT_Y = [
    0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.1999999999999997, 2.1000000000000005, 1.25,
    -0.4583333333333329, -1.5, -0.5833333333333328, -1.6666666666666656, -2.5396825396825395,
    -3.6428571428571432, -2.25, -1.055555555555556, -1.9999999999999996,
]  # fmt: skip
SKLIFT_QINI_AREA_ABOVE_RANDOM = 5.7896825396825395
SKLIFT_UPLIFT_AREA_ABOVE_RANDOM = 10.761904761904761
SKLIFT_QINI_AUC_SCORE = 0.0728261954677049
SKLIFT_UPLIFT_AUC_SCORE = 0.09317666460523602
SKLIFT_UPLIFT_AT_K = {0.2: 0.0, 0.3: -0.19999999999999996, 0.5: 0.125, 0.75: -0.11111111111111105}


def test_curves_and_areas_match_scikit_uplift():
    args = REF_OUTCOME, REF_TREATED, REF_SCORE
    n = REF_OUTCOME.size
    share, qini = qini_curve(*args)
    np.testing.assert_allclose(share * n, SKLIFT_CURVE_X)
    np.testing.assert_allclose(qini * n, SKLIFT_QINI_Y, atol=1e-12)
    share, uplift = uplift_curve(*args)
    np.testing.assert_allclose(share * n, SKLIFT_CURVE_X)
    np.testing.assert_allclose(uplift * n, SKLIFT_UPLIFT_Y, atol=1e-12)
    # Both axes are divided by N, so areas are scikit-uplift's divided by N².
    assert qini_coefficient(*args) * n**2 == pytest.approx(SKLIFT_QINI_AREA_ABOVE_RANDOM)
    assert auuc(*args) * n**2 == pytest.approx(SKLIFT_UPLIFT_AREA_ABOVE_RANDOM)


def test_scikit_uplift_scores_are_ours_over_the_perfect_score():
    y, t, s = REF_OUTCOME, REF_TREATED, REF_SCORE
    perfect_qini = y * t - y * (1 - t)
    held_out_good, treated_bad = np.sum((y == 1) & (t == 0)), np.sum((y == 0) & (t == 1))
    perfect_uplift = 2 * (y == t) + (y if held_out_good > treated_bad else t)
    assert qini_coefficient(y, t, s) / qini_coefficient(y, t, perfect_qini) == pytest.approx(
        SKLIFT_QINI_AUC_SCORE
    )
    assert auuc(y, t, s) / auuc(y, t, perfect_uplift) == pytest.approx(SKLIFT_UPLIFT_AUC_SCORE)


@pytest.mark.parametrize("share", sorted(SKLIFT_UPLIFT_AT_K))
def test_uplift_at_k_matches_scikit_uplift(share):
    value = uplift_at_k(REF_OUTCOME, REF_TREATED, REF_SCORE, share)
    assert value == pytest.approx(SKLIFT_UPLIFT_AT_K[share], abs=1e-12)


def simulated_campaign(n: int = 4000, seed: int = 0):
    """Half the customers are persuadable: retained 90% of the time if called, 30% if not.
    The rest are retained 70% of the time either way. Half of everyone is called."""
    rng = np.random.default_rng(seed)
    persuadable = rng.uniform(size=n) < 0.5
    treated = rng.uniform(size=n) < 0.5
    retained_rate = np.where(persuadable, np.where(treated, 0.9, 0.3), 0.7)
    retained = (rng.uniform(size=n) < retained_rate).astype(int)
    true_uplift = np.where(persuadable, 0.6, 0.0)
    return retained, treated, true_uplift, rng.uniform(size=n)


def test_oracle_beats_random_and_reversed_is_worse_than_random():
    retained, treated, true_uplift, random_score = simulated_campaign()
    oracle = qini_coefficient(retained, treated, true_uplift)
    random = qini_coefficient(retained, treated, random_score)
    reversed_ = qini_coefficient(retained, treated, -true_uplift)
    # In expectation the oracle's Qini curve rises to 0.5 · 0.6 / 2 = 0.15 at share 0.5 and
    # stays flat: area 0.1125, random line 0.075, so 0.0375; the reversed score mirrors it.
    assert oracle == pytest.approx(0.0375, abs=0.006)
    assert abs(random) < 0.01
    assert reversed_ == pytest.approx(-0.0375, abs=0.006)
    assert oracle > random + 0.02 > reversed_ + 0.04

    # Same story for the uplift curve: expected 0.225 − 0.15 = 0.075 for the oracle.
    assert auuc(retained, treated, true_uplift) == pytest.approx(0.075, abs=0.01)
    assert abs(auuc(retained, treated, random_score)) < 0.02
    assert auuc(retained, treated, -true_uplift) == pytest.approx(-0.075, abs=0.01)

    # Calling the top half (the persuadables) lifts retention by about 0.9 − 0.3.
    assert uplift_at_k(retained, treated, true_uplift, share=0.5) == pytest.approx(0.6, abs=0.05)


GOOD = {"outcome": HAND_OUTCOME, "treated": HAND_TREATED, "score": HAND_SCORE}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"score": HAND_SCORE[:-1]}, r"same length.*'score': 7"),
        ({"outcome": [0, 1, 2, 0, 1, 0, 0, 1]}, r"outcome must be 0 or 1.*got 2 at position 2"),
        ({"outcome": [0, 1, np.nan, 0, 1, 0, 0, 1]}, r"outcome must be 0 or 1.*nan at position 2"),
        ({"outcome": ["no"] * 8}, r"outcome must be 0 or 1"),
        ({"treated": [0, 1, 1, 0, -1, 0, 0, 1]}, r"treated must be 0 or 1.*got -1 at position 4"),
        (
            {"score": [0.4, 0.7, np.nan, 0.2, 0.7, 0.5, 0.8, 0.3]},
            r"score must not be NaN.*at position 2",
        ),
        ({"score": ["high"] * 8}, r"score must be numbers"),
        ({"treated": np.zeros(8, dtype=bool)}, r"treated has no treated"),
        ({"treated": np.ones(8, dtype=bool)}, r"treated has no held-out"),
        ({"score": HAND_SCORE.reshape(2, 4)}, r"score must be one-dimensional.*\(2, 4\)"),
    ],
)
@pytest.mark.parametrize("metric", [qini_curve, qini_coefficient, uplift_curve, auuc])
def test_bad_inputs_are_rejected_by_name(metric, changes, message):
    with pytest.raises(ValueError, match=message):
        metric(**{**GOOD, **changes})


@pytest.mark.parametrize("share", [0, -0.1, 1.5, float("nan"), True, "10%"])
def test_uplift_at_k_rejects_a_share_outside_0_to_1(share):
    with pytest.raises(ValueError, match=r"share must be .*\(0, 1\]"):
        uplift_at_k(HAND_OUTCOME, HAND_TREATED, HAND_SCORE, share)


def test_uplift_at_k_validates_the_arrays_too():
    with pytest.raises(ValueError, match=r"treated has no held-out"):
        uplift_at_k(HAND_OUTCOME, np.ones(8, dtype=bool), HAND_SCORE, 0.5)


def test_bootstrap_keeps_the_arms_sizes_and_pairs_the_scores():
    from evaluation.uplift_metrics import bootstrap_metrics

    rng = np.random.default_rng(3)

    def campaign(n: int):
        treated = rng.random(n) < 0.7
        x = rng.random(n)
        outcome = rng.random(n) < 0.5 + 0.2 * treated * (x - 0.5)
        return outcome, treated, x

    outcome, treated, x = campaign(2000)
    sizes = {"called": lambda y, t, s: t.sum(), "qini": qini_coefficient}
    draws = bootstrap_metrics(outcome, treated, {"x": x, "same": x.copy()}, sizes, draws=50)
    assert set(draws["x", "called"]) == {treated.sum()}  # resampled within each arm
    np.testing.assert_array_equal(draws["x", "qini"], draws["same", "qini"])  # paired
    width = np.ptp(np.percentile(draws["x", "qini"], [2.5, 97.5]))
    outcome, treated, x = campaign(8000)
    big = bootstrap_metrics(outcome, treated, {"x": x}, {"qini": qini_coefficient}, draws=50)
    assert np.ptp(np.percentile(big["x", "qini"], [2.5, 97.5])) < 0.7 * width  # ~1/√4
