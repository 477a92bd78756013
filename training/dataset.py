"""Training sets from monthly point-in-time snapshots, split by time with purge gaps."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from common.config import FeaturesConfig, RetainConfig, TrainingConfig
from common.dates import add_months, start_of
from common.errors import DataError
from common.files import write_frame
from features import pipeline
from features.model_frame import to_model_frame
from features.validation import BankData


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


def plan_snapshots(
    extracted_at: datetime, features: FeaturesConfig, training: TrainingConfig
) -> SnapshotPlan:
    """Month-start snapshots for an extract.

    Raises:
        DataError: the extract is too short for training, validation and test.
    """
    horizon = timedelta(days=features.horizon_days)
    test = (extracted_at - horizon).date().replace(day=1)
    while start_of(test) + horizon > extracted_at:
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


def first_record(bank: BankData) -> date:
    """The day the extract's history starts: first customer joined or first transaction."""
    joined = bank.tables["customers"].joined_at.min().to_pyarrow().as_py()
    first_transaction = bank.tables["transactions"].ts.min().to_pyarrow().as_py().date()
    return max(joined, first_transaction)


def check_history(plan: SnapshotPlan, first_record: date) -> None:
    """The first training snapshot must come after the data starts."""
    if plan.train[0] <= first_record:
        raise DataError(
            f"the extract starts {first_record} but training needs snapshots from "
            f"{plan.train[0]} (test {plan.test}, validation {plan.valid}, "
            f"{len(plan.train)} training snapshots): use fewer training.train_snapshots or a "
            "longer extract"
        )


def build_snapshot_frame(
    bank: BankData, as_of_dates, config: FeaturesConfig, cache_dir: Path | None = None
) -> pd.DataFrame:
    """Features and labels at the given dates, as a model frame.

    With `cache_dir`, the frame is kept there under a key of the extract's files (path,
    size, modification time), the feature settings, the dates and the source of the code that
    computes features (`features.pipeline.feature_code_digest`); a later run with the same
    key reads it instead of recomputing (retraining, tuning, backtests and promotion on one
    extract). Any change to any of them is a miss; a change elsewhere (a help text, the
    simulator, a report) is not.
    """
    key = _cache_key(bank, as_of_dates, config) if cache_dir is not None else None
    cached = cache_dir / f"snapshots-{key}.parquet" if key else None
    if cached is not None and cached.exists():
        return to_model_frame(pd.read_parquet(cached), config)
    frame = pipeline.feature_frame(bank, as_of_dates, config, with_labels=True)
    if cached is not None:
        write_frame(frame, cached)
        _evict(cached.parent, keep=CACHE_KEEP)
    return frame


CACHE_KEEP = 3  # snapshot sets kept per cache folder, the most recently used
EXECUTION_SETTINGS = ("duckdb_threads", "duckdb_memory_limit", "spark_master")


def _cache_key(bank: BankData, as_of_dates, config: FeaturesConfig) -> str | None:
    if bank.data_dir is None:
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(bank.data_dir).rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(
            f"{path.relative_to(bank.data_dir)}:{stat.st_size}:{stat.st_mtime_ns};".encode()
        )
    # How the engine runs (threads, memory, Spark master) does not change a value.
    settings = config.model_dump(mode="json", exclude=set(EXECUTION_SETTINGS))
    digest.update(json.dumps(settings, sort_keys=True).encode())
    digest.update(",".join(str(day) for day in sorted(set(as_of_dates))).encode())
    digest.update(str(bank.extracted_at).encode())
    digest.update(pipeline.feature_code_digest().encode())
    return digest.hexdigest()[:24]


def _evict(folder: Path, keep: int) -> None:
    files = sorted(folder.glob("snapshots-*.parquet"), key=lambda p: p.stat().st_mtime)
    for old in files[:-keep]:
        old.unlink(missing_ok=True)


def build_training_frame(
    bank: BankData, plan: SnapshotPlan, config: FeaturesConfig, cache_dir: Path | None = None
) -> pd.DataFrame:
    """Features and labels at every planned snapshot, with a `split` column."""
    frame = build_snapshot_frame(bank, plan.all_dates, config, cache_dir)
    as_of = frame["as_of"].to_numpy()
    frame["split"] = np.select(
        [as_of == np.datetime64(plan.test), as_of == np.datetime64(plan.valid)],
        ["test", "valid"],
        default="train",
    )
    return frame


def snapshot_cache(config: RetainConfig) -> Path | None:
    """Where training keeps computed snapshot sets, or None when caching is off."""
    return config.output_dir / "snapshots" if config.training.snapshot_cache else None
