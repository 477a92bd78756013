"""Snapshot planning: out-of-time splits with purge gaps."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from retain.config import FeaturesConfig, TrainingConfig
from retain.errors import DataError
from training.dataset import check_history, plan_snapshots


def test_plan_for_a_two_year_extract():
    plan = plan_snapshots(
        datetime(2024, 12, 31, 23, 59, 59), FeaturesConfig(), TrainingConfig(train_snapshots=3)
    )
    assert plan.test == date(2024, 10, 1)  # horizon ends 2024-12-30, inside the extract
    assert plan.valid == date(2024, 7, 1)
    assert plan.train == (date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1))


@pytest.mark.parametrize("horizon_days", [30, 60, 90, 120])
def test_label_windows_never_overlap_the_next_split(horizon_days):
    features = FeaturesConfig(horizon_days=horizon_days)
    plan = plan_snapshots(datetime(2024, 6, 30, 23, 59, 59), features, TrainingConfig())
    horizon = features.horizon_days
    assert (plan.train[-1] - date(1970, 1, 1)).days + horizon <= (
        plan.valid - date(1970, 1, 1)
    ).days
    assert (plan.valid - date(1970, 1, 1)).days + horizon <= (plan.test - date(1970, 1, 1)).days
    assert (
        datetime.combine(plan.test, datetime.min.time()).timestamp() + horizon * 86400
        <= datetime(2024, 6, 30, 23, 59, 59).timestamp()
    )


def test_too_short_an_extract_is_a_clear_error():
    plan = plan_snapshots(datetime(2023, 12, 31), FeaturesConfig(), TrainingConfig())
    with pytest.raises(DataError, match="use fewer training.train_snapshots"):
        check_history(plan, first_record=date(2023, 1, 1))
