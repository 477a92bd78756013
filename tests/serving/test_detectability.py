"""Before a list goes out: can its holdout show the effect the programme expects?"""

from __future__ import annotations

import pandas as pd
import pytest

from common.names import HOLDOUT, OWED_GROUP, TREATMENT
from evaluation.campaign_effect import minimum_detectable_effect
from serving.detectability import detectability, detectability_warning, holdout_share_needed


def tasks(treated: int, held_out: int, churn: float = 0.05) -> pd.DataFrame:
    groups = [TREATMENT] * treated + [HOLDOUT] * held_out
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(len(groups))],
            "group": groups,
            "churn_probability": churn,
        }
    )


def test_a_small_holdout_cannot_show_a_one_point_effect_and_says_so():
    # 2.8016 × √(0.05 × 0.95 × (1/900 + 1/100)) = 0.0644
    check = detectability(tasks(900, 100), expected_effect=0.01)
    assert check["minimum_detectable_effect"] == pytest.approx(0.0644, abs=1e-3)
    assert not check["detectable"] and check["holdout_share_needed"] is None
    warning = detectability_warning(check)
    assert "6.44 pp" in warning and "1.00 pp" in warning and "programme_id" in warning


def test_the_share_it_asks_for_is_the_smallest_that_detects_the_effect():
    share = holdout_share_needed(100_000, 0.05, 0.01)
    assert share == pytest.approx(0.0388, abs=5e-4)
    held = round(100_000 * share) + 1
    assert minimum_detectable_effect(100_000 - held, held, 0.05) <= 0.01
    held = round(100_000 * share) - 200
    assert minimum_detectable_effect(100_000 - held, held, 0.05) > 0.01
    check = detectability(tasks(96_000, 4_000), expected_effect=0.01)
    assert check["detectable"] and detectability_warning(check) is None
    warning = detectability_warning(detectability(tasks(99_000, 1_000), expected_effect=0.01))
    assert "a holdout share of 4% would (serving.holdout_share)" in warning


def test_customers_count_once_whatever_their_number_of_tasks():
    frame = pd.concat([tasks(900, 100), tasks(900, 100)], ignore_index=True)
    check = detectability(frame, expected_effect=0.01)
    assert (check["treated"], check["holdout"]) == (900, 100)
    assert detectability_warning(detectability(tasks(500, 0), 0.01)) is None  # no holdout


def test_owed_calls_are_outside_the_experiment_and_do_not_set_its_churn_rate():
    owed = tasks(500, 0, churn=0.60).assign(group=OWED_GROUP)
    owed["customer_id"] = "O" + owed["customer_id"]
    check = detectability(pd.concat([tasks(900, 100), owed], ignore_index=True), 0.01)
    assert (check["treated"], check["holdout"]) == (900, 100)
    assert check["base_churn_rate"] == pytest.approx(0.05)
