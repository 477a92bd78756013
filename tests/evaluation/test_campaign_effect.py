"""Treatment-vs-holdout effects: known answers, coverage by simulation, segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.campaign_effect import effects_by, rate_difference, wilson_interval


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
    assert effect.test == "two_proportion_z" and 0.005 < effect.p_value < 0.01


def test_small_counts_use_fishers_exact_test():
    effect = rate_difference([1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0])
    assert effect.test == "fisher_exact"
    assert effect.p_value == pytest.approx(0.2424, abs=1e-4)


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
