"""Training sets from monthly point-in-time snapshots, split by time with purge gaps."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from features import pipeline
from features.validation import BankData
from retain.config import FeaturesConfig, TrainingConfig
from retain.errors import DataError


@dataclass(frozen=True)
class SnapshotPlan:
    """Which as-of dates train, validate and test a model.

    The test snapshot is the latest whose label horizon the extract covers. Validation lies
    a full horizon before it, and training a full horizon before validation, so the outcome
    window of one split never overlaps the next: a customer's churn is a label in one split
    only, and the test period is truly out of time.
    """

    train: tuple[date, ...]
    valid: date
    test: date

    @property
    def all_dates(self) -> tuple[date, ...]:
        return (*self.train, self.valid, self.test)

    def split_of(self, as_of: date) -> str:
        if as_of == self.test:
            return "test"
        return "valid" if as_of == self.valid else "train"


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def plan_snapshots(
    extracted_at: datetime, features: FeaturesConfig, training: TrainingConfig
) -> SnapshotPlan:
    """Month-start snapshots for an extract.

    Raises:
        DataError: the extract is too short for training, validation and test.
    """
    horizon = timedelta(days=features.horizon_days)
    test = (extracted_at - horizon).date().replace(day=1)
    while datetime.combine(test, datetime.min.time()) + horizon > extracted_at:
        test = add_months(test, -1)
    gap = math.ceil(features.horizon_days / 30)
    valid = add_months(test, -gap)
    last_train = add_months(valid, -gap)
    train = tuple(
        add_months(last_train, -training.snapshot_spacing_months * k)
        for k in reversed(range(training.train_snapshots))
    )
    return SnapshotPlan(train=train, valid=valid, test=test)


def shift_plan(plan: SnapshotPlan, months: int) -> SnapshotPlan:
    """The same plan `months` earlier: a rolling origin for backtesting."""
    return SnapshotPlan(
        train=tuple(add_months(day, -months) for day in plan.train),
        valid=add_months(plan.valid, -months),
        test=add_months(plan.test, -months),
    )


def check_history(plan: SnapshotPlan, first_record: date) -> None:
    """The first training snapshot must come after the data starts."""
    if plan.train[0] <= first_record:
        raise DataError(
            f"the extract starts {first_record} but training needs snapshots from "
            f"{plan.train[0]} (test {plan.test}, validation {plan.valid}, "
            f"{len(plan.train)} training snapshots): use fewer training.train_snapshots or a "
            "longer extract"
        )


def build_snapshot_frame(bank: BankData, as_of_dates, config: FeaturesConfig) -> pd.DataFrame:
    """Features and labels at the given dates, as a model frame."""
    return pipeline.feature_frame(bank, as_of_dates, config, with_labels=True)


def build_training_frame(
    bank: BankData, plan: SnapshotPlan, config: FeaturesConfig
) -> pd.DataFrame:
    """Features and labels at every planned snapshot, with a `split` column."""
    frame = build_snapshot_frame(bank, plan.all_dates, config)
    as_of = frame["as_of"].to_numpy()
    frame["split"] = np.select(
        [as_of == np.datetime64(plan.test), as_of == np.datetime64(plan.valid)],
        ["test", "valid"],
        default="train",
    )
    return frame
