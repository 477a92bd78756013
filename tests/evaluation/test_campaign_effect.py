"""Treatment-vs-holdout effects: known answers, coverage by simulation, segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.campaign_effect import (
    NEWCOMBE,
    adjusted_p_values,
    effect_on_reached,
    effects_by,
    minimum_detectable_effect,
    rate_difference,
    wilson_interval,
)


def test_wilson_interval_matches_the_published_example():
    # Newcombe (1998), table II: 81 of 263 → 0.2553 to 0.3662.
    low, high = wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), table II, example (a): 56/70 − 48/80, method 10: 0.0524 to 0.3339.
    effect = rate_difference([1] * 56 + [0] * 14, [1] * 48 + [0] * 32)
    assert effect.difference == pytest.approx(0.2)
    assert effect.ci_low == pytest.approx(0.0524, abs=1e-4)
    assert effect.ci_high == pytest.approx(0.3339, abs=1e-4)
    assert effect.test == NEWCOMBE and 0.005 < effect.p_value < 0.01


def test_the_p_value_is_the_interval_inverted():
    """p < 0.05 exactly when the 95 % interval excludes 0, and at the confidence 1 − p
    the interval's edge is 0: one method, never a figure and an interval that disagree."""
    rng = np.random.default_rng(5)
    for _ in range(300):
        n1, n0 = rng.integers(5, 3000), rng.integers(5, 800)
        treated = rng.random(n1) < rng.uniform(0.0, 0.3)
        holdout = rng.random(n0) < rng.uniform(0.0, 0.3)
        effect = rate_difference(treated, holdout)
        assert (effect.p_value < 0.05) == (effect.ci_low > 0 or effect.ci_high < 0)
        if 1e-8 < effect.p_value < 1:
            at_p = rate_difference(treated, holdout, confidence=1 - effect.p_value)
            edge = at_p.ci_low if effect.difference > 0 else at_p.ci_high
            assert abs(edge) < 1e-6
    assert rate_difference([0] * 50, [0] * 40).p_value == 1.0  # no difference at all
    assert rate_difference([0] * 500, [1] * 500).p_value < 1e-100


def test_without_an_effect_the_p_value_falls_below_005_about_5_times_in_100():
    """Campaign-like groups (900 called, 100 held out, 5 % churn): the level holds."""
    rng = np.random.default_rng(6)
    rejected = sum(
        rate_difference(rng.random(900) < 0.05, rng.random(100) < 0.05).p_value < 0.05
        for _ in range(2_000)
    )
    assert 0.02 <= rejected / 2_000 <= 0.07


def test_minimum_detectable_effect_by_hand_and_by_simulation():
    # (1.95996 + 0.84162) × √(0.05 × 0.95 × (1/1000 + 1/1000)) = 0.02731
    assert minimum_detectable_effect(1000, 1000, 0.05) == pytest.approx(0.02731, abs=1e-4)
    assert minimum_detectable_effect(9000, 1000, 0.05) < minimum_detectable_effect(500, 500, 0.05)
    assert np.isnan(minimum_detectable_effect(0, 10, 0.05))
    assert np.isnan(minimum_detectable_effect(10, 10, 0.0))
    # A true effect of that size is found about 80 times in 100.
    rng = np.random.default_rng(7)
    effect = minimum_detectable_effect(2000, 2000, 0.10)
    found = sum(
        rate_difference(rng.random(2000) < 0.10 - effect, rng.random(2000) < 0.10).p_value < 0.05
        for _ in range(1_000)
    )
    assert 0.74 <= found / 1_000 <= 0.86


def test_benjamini_hochberg_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4/1, ×4/2, ×4/3, ×4/4 → 0.02, 0.02, 0.04, 0.04
    adjusted = adjusted_p_values([0.01, 0.04, np.nan, 0.03, 0.005])
    assert np.allclose(adjusted[[0, 1, 3, 4]], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(adjusted[2])
    assert np.isnan(adjusted_p_values([np.nan])).all()


def test_the_interval_covers_the_true_effect_about_95_times_in_100():
    """Campaign-sized groups and a churn rate near 5 %: the interval must hold its level."""
    rng = np.random.default_rng(3)
    true_treated, true_holdout = 0.040, 0.055
    covered = 0
    for _ in range(1_000):
        effect = rate_difference(rng.random(900) < true_treated, rng.random(100) < true_holdout)
        covered += effect.ci_low <= true_treated - true_holdout <= effect.ci_high
    assert 0.93 <= covered / 1_000 <= 0.975


def test_a_real_effect_is_found_and_no_effect_is_not():
    rng = np.random.default_rng(4)
    found = rate_difference(rng.random(20_000) < 0.04, rng.random(2_000) < 0.08)
    assert found.ci_high < 0 and found.p_value < 1e-6
    none = rate_difference(rng.random(20_000) < 0.05, rng.random(2_000) < 0.05)
    assert none.ci_low < 0 < none.ci_high and none.p_value > 0.01


def test_effects_by_segment_and_for_everyone():
    frame = pd.DataFrame(
        {
            "group": ["treatment"] * 6 + ["holdout"] * 6,
            "tier": ["core", "core", "core", "general", "general", "general"] * 2,
            "churned": [0, 0, 0, 1, 1, 0] + [1, 1, 0, 1, 1, 0],
        }
    )
    table = effects_by(frame, "churned", by=("tier",)).set_index(["segment", "value"])
    assert list(table.index) == [("all", "all"), ("tier", "core"), ("tier", "general")]
    assert table.loc[("all", "all"), "difference"] == pytest.approx(2 / 6 - 4 / 6)
    assert table.loc[("tier", "core"), "difference"] == pytest.approx(0 - 2 / 3)
    assert table.loc[("tier", "general"), "difference"] == pytest.approx(0.0)


def test_unknown_outcomes_are_refused_not_counted():
    with pytest.raises(ValueError, match="treated outcomes must be 0 or 1"):
        rate_difference([1, np.nan, 0], [0, 1])
    with pytest.raises(ValueError, match="both groups"):
        rate_difference([], [0, 1])


def test_one_primary_endpoint_and_the_segment_tests_adjusted_as_one_family():
    from evaluation.programme_tables import with_multiplicity

    itt, reached = "intention to treat", "contacted vs holdout"
    effects = pd.DataFrame(
        {
            "outcome": ["churn", "churn", "churn", "repurchase", "churn", "repurchase"],
            "estimand": [itt, itt, itt, itt, reached, reached],
            "segment": ["all", "tier", "tier", "all", "all", "all"],
            "value": ["all", "core", "general", "all", "all", "all"],
            "p_value": [0.02, 0.01, 0.04, 0.03, 0.02, 0.03],
        }
    )
    out = with_multiplicity(effects)
    assert out["primary"].tolist() == [True, False, False, False, False, False]
    # The primary endpoint is tested alone; the three secondary ones as a BH family:
    # 0.01 × 3/1, 0.03 × 3/2, 0.04 × 3/3 → 0.03, 0.045, 0.04 (monotone: 0.04, 0.04).
    assert out["p_value_adjusted"].iloc[0] == 0.02
    assert np.allclose(out["p_value_adjusted"].iloc[1:4], [0.03, 0.04, 0.04])
    # An effect on the reached is the ITT test rescaled: it takes its row's p-value.
    assert np.allclose(out["p_value_adjusted"].iloc[4:], [0.02, 0.04])


def test_the_effect_on_the_reached_covers_the_truth_with_the_reach_share_uncertain():
    """A call reaches 60 % and lowers their churn from 12 % to 6 %: the Wald ratio's
    interval, with the reach share drawn anew each time, covers −6 points about 95 times
    in 100."""
    rng = np.random.default_rng(21)
    covered = 0
    for _ in range(400):
        reached = rng.random(1500) < 0.6
        treated = rng.random(1500) < np.where(reached, 0.06, 0.12)
        holdout = rng.random(700) < 0.12
        effect, low, high = effect_on_reached(treated, reached, holdout, np.zeros(700))
        covered += low <= -0.06 <= high
        itt = rate_difference(treated, holdout)
        assert effect == pytest.approx(itt.difference / reached.mean())
    assert 368 <= covered <= 396  # 95 % nominal, 1 % tails of 400 draws
    assert np.isnan(effect_on_reached([0, 1], [0, 0], [0, 1], [0, 0])[0])  # nobody reached
