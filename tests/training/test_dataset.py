"""Snapshot planning: out-of-time splits with purge gaps."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from common.config import FeaturesConfig, TrainingConfig
from common.errors import DataError
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


def test_snapshot_cache_is_reused_only_for_the_same_extract(small_synthetic_bank, tmp_path):
    import shutil
    from datetime import date

    import pandas as pd

    from common.config import load_config
    from features import engine
    from features.validation import load_bank
    from training.dataset import build_snapshot_frame

    data = tmp_path / "bank"
    shutil.copytree(small_synthetic_bank, data)
    cache = tmp_path / "cache"
    config = load_config()
    dates = [date(2023, 6, 1), date(2023, 7, 1)]

    def build():
        bank = load_bank(engine.connect(config.features), data, config.data)
        return build_snapshot_frame(bank, dates, config.features, cache)

    first = build()
    assert len(list(cache.glob("snapshots-*.parquet"))) == 1
    pd.testing.assert_frame_equal(build(), first)
    assert len(list(cache.glob("snapshots-*.parquet"))) == 1  # a hit, not a second entry
    # The extract changes: a customer is older now. The cache must not answer.
    customers = pd.read_parquet(data / "customers.parquet")
    someone = first["customer_id"].iloc[0]
    customers.loc[customers["customer_id"] == someone, "birth_date"] = date(1940, 1, 1)
    customers.to_parquet(data / "customers.parquet", index=False)
    changed = build()
    assert len(list(cache.glob("snapshots-*.parquet"))) == 2
    age = changed.loc[changed["customer_id"] == someone, "age_years"]
    assert (age > 80).all() and not first.equals(changed)


def test_snapshot_cache_key_follows_the_feature_code_and_settings_only(
    small_synthetic_bank, monkeypatch
):
    """A help text, the simulator or an engine's thread count leave the key alone; the
    feature definitions and a feature setting change it."""
    from pathlib import Path

    from common.config import load_config
    from features import engine, pipeline
    from features.validation import load_bank
    from training.dataset import _cache_key

    config = load_config()
    bank = load_bank(engine.connect(config.features), small_synthetic_bank, config.data)
    dates = [date(2023, 6, 1)]
    key = _cache_key(bank, dates, config.features)
    assert _cache_key(bank, dates, FeaturesConfig(duckdb_threads=1)) == key
    assert _cache_key(bank, dates, FeaturesConfig(horizon_days=60)) != key

    hashed = {Path(pipeline.__file__).parent / f"{name}.py" for name in pipeline.FEATURE_CODE}
    assert Path(pipeline.__file__).parent / "definitions.py" in hashed
    assert not {"cli.py", "report.py", "contract_doc.py"} & {path.name for path in hashed}
    real_read = Path.read_bytes

    def edited(path):
        source = real_read(path)
        return source + b"\n# edited\n" if path.name == "definitions.py" else source

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert _cache_key(bank, dates, config.features) != key
