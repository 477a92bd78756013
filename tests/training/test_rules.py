"""The rule baselines on hand-made frames: what each ranks first and how it becomes a
probability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.rules import (
    INACTIVITY_RULE,
    SALARY_OR_OUTFLOW_RULE,
    RuleBaseline,
    salary_or_outflow_score,
)


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "salary_stopped": [0, 1, 0, 0, 0, np.nan],
            "transfer_out_other_bank_sum_90d": [0.0, 0.0, 600.0, 100.0, 300.0, 50.0],
            "credit_sum_90d": [1000.0, 1000.0, 1000.0, 1000.0, 0.0, np.nan],
            "days_since_last_txn": [1.0, 3.0, 2.0, 40.0, np.nan, 5.0],
        }
    )


def test_salary_stopped_or_money_leaving_comes_first_ranked_by_outflow():
    frame = _customers()
    score = salary_or_outflow_score(frame)
    # Flagged: salary stopped (1), 60 % of money in gone to another bank (2), money out with
    # nothing coming in (4). Not flagged: 10 % out (3), nothing out (0), unknown money in
    # with little out (5: 50 out of at least 1 in is still a large share, so flagged).
    flagged = score >= 1
    np.testing.assert_array_equal(flagged, [False, True, True, False, True, True])
    # Within the flagged, the larger outflow share first: 300 of nothing in, 50 of nothing
    # known in, 600 of 1000, then the stopped salary without outflow.
    order = [int(i) for i in np.argsort(-score, kind="stable")]
    assert order[:4] == [4, 5, 2, 1]
    assert score[3] > score[0]  # 10 % out ranks above nothing out
    assert frame.equals(_customers()), "the rule must not change its input"


def test_the_rule_needs_its_features():
    with pytest.raises(KeyError, match="credit_sum_90d"):
        salary_or_outflow_score(_customers().drop(columns="credit_sum_90d"))


def test_rule_probabilities_are_the_training_rates_and_do_not_mix_flagged_and_others():
    rng = np.random.default_rng(0)
    n = 2000
    stopped = rng.uniform(0, 1, n) < 0.03  # fewer than a decile: a decile bin would mix
    train = pd.DataFrame(
        {
            "salary_stopped": stopped.astype(float),
            "transfer_out_other_bank_sum_90d": rng.uniform(0, 100, n),
            "credit_sum_90d": np.full(n, 1000.0),
            "churned": np.where(stopped, rng.uniform(0, 1, n) < 0.5, rng.uniform(0, 1, n) < 0.02),
        }
    )
    baseline = RuleBaseline.fit(train, "churned", SALARY_OR_OUTFLOW_RULE)
    probabilities = baseline.predict_proba(train)
    assert probabilities[stopped].min() == pytest.approx(train["churned"][stopped].mean())
    assert probabilities[~stopped].max() < 0.1


def test_inactivity_rule_treats_never_seen_as_most_inactive():
    frame = _customers().assign(churned=[0, 0, 0, 1, 1, 0])
    score = INACTIVITY_RULE.score(frame)
    assert score[4] == score.max()
    baseline = RuleBaseline.fit(frame, "churned", INACTIVITY_RULE)
    assert baseline.predict_proba(frame)[4] == pytest.approx(1.0)
