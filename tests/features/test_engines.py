"""One definition, two engines: DuckDB and PySpark give the same features and labels."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from banks import tiny_bank_frames, tiny_bank_with_history, write_bank

from common.config import DataConfig, FeaturesConfig
from features import engine, pipeline
from features.validation import load_bank

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.slow]


def build(folder, out, engine_name, as_of_dates):
    config = FeaturesConfig(engine=engine_name)
    bank = load_bank(engine.connect(config), folder, DataConfig(), out.parent / "q")
    pipeline.build_feature_file(bank, as_of_dates, config, out, with_labels=True)
    return pd.read_parquet(out).sort_values(["customer_id", "as_of"]).reset_index(drop=True)


def test_duckdb_and_spark_agree_on_the_small_synthetic_bank(tmp_path, small_synthetic_bank):
    as_of_dates = [date(2023, 7, 1), date(2023, 10, 1)]
    duck = build(small_synthetic_bank, tmp_path / "duck.parquet", "duckdb", as_of_dates)
    spark = build(small_synthetic_bank, tmp_path / "spark.parquet", "spark", as_of_dates)
    assert len(duck) > 100
    assert list(duck.columns) == list(spark.columns)
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False, rtol=1e-9)


@pytest.mark.parametrize("bank", [tiny_bank_frames, tiny_bank_with_history])
def test_duckdb_and_spark_agree_on_hand_made_cases(tmp_path, bank):
    frames = bank()
    # Sub-second timestamps: DuckDB keeps the fraction of epoch seconds, Spark drops it.
    tx = frames["transactions"]
    extra = tx.iloc[[0]].assign(ts=pd.Timestamp("2024-01-31 23:59:59.750"), amount=12.5)
    frames["transactions"] = pd.concat([tx, extra], ignore_index=True)
    folder = write_bank(frames, tmp_path / "bank")
    # Dates on both sides of an attribute change, a fixed-rate end and a rate publication.
    as_of_dates = [date(2023, 9, 1), date(2023, 10, 1), date(2024, 2, 1), date(2024, 2, 15)]
    duck = build(folder, tmp_path / "duck.parquet", "duckdb", as_of_dates)
    spark = build(folder, tmp_path / "spark.parquet", "spark", as_of_dates)
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False, rtol=1e-9)
