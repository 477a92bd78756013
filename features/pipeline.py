"""Run the feature definitions: a whole extract to a Parquet file, or one customer in memory."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from features import definitions
from features.definitions import CATEGORICAL_FEATURES, KEYS, FeatureInputs
from features.schema import (
    CONTACT_CHANNELS,
    GENDERS,
    INCOME_BANDS,
    SEGMENTS,
    TIERS,
)
from features.validation import BankData
from retain.config import FeaturesConfig
from retain.errors import DataError

# Categorical levels fixed by the contract, so a one-row request and a million-row batch
# get identical dtypes. `region` is open-ended: its levels come from the data a model saw.
CATEGORY_LEVELS: dict[str, tuple[str, ...] | None] = {
    "gender": GENDERS,
    "region": None,
    "income_band": INCOME_BANDS,
    "preferred_channel": CONTACT_CHANNELS,
    "segment": SEGMENTS,
    "tier": TIERS,
}


@dataclass(frozen=True)
class FeatureBuild:
    """What `build_feature_file` wrote."""

    path: Path
    rows: int
    columns: int
    as_of_dates: tuple[date, ...]
    seconds: float


def catalogue(bank: BankData) -> list[str]:
    """Product ids of the extract's catalogue, sorted."""
    products = bank.tables["products"].select("product_id").to_pyarrow()
    return sorted(products.column("product_id").to_pylist())


def require_extraction_time(bank: BankData, with_labels: bool) -> None:
    """Labels are null until the extract covers their horizon: that needs its end date."""
    if with_labels and not bank.extracted_at_known:
        raise DataError(
            "labels need the extraction time of the data: add manifest.json with "
            '{"extracted_at": "..."} to the extract or set data.extracted_at'
        )


def build_feature_file(
    bank: BankData,
    as_of_dates: Sequence[date],
    config: FeaturesConfig,
    out: Path,
    with_labels: bool = False,
) -> FeatureBuild:
    """Compute features (and labels) inside the engine and write them to Parquet.

    The file appears complete or not at all: it is written beside the target and renamed.

    Args:
        bank: validated extract.
        as_of_dates: cut-off dates, one row per customer per date.
        config: feature definitions' settings.
        out: target Parquet file.
        with_labels: add the churn and cross-sell labels.

    Returns:
        Where it went, its size and how long it took.
    """
    started = time.perf_counter()
    expr = _feature_expression(bank, as_of_dates, config, with_labels)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    expr.to_parquet(partial)
    if partial.is_dir():  # Spark writes a folder of parts; keep one file for everyone else.
        pq.write_table(pq.read_table(partial), out)
        shutil.rmtree(partial)
    else:
        os.replace(partial, out)
    metadata = pq.read_metadata(out)
    return FeatureBuild(
        out,
        metadata.num_rows,
        metadata.num_columns,
        tuple(sorted(set(as_of_dates))),
        time.perf_counter() - started,
    )


def feature_frame(
    bank: BankData,
    as_of_dates: Sequence[date],
    config: FeaturesConfig,
    with_labels: bool = False,
) -> pd.DataFrame:
    """Features (and labels) at the given dates, computed in the engine, as a model frame
    sorted by customer and date. Training, batch scoring and notebooks use this."""
    expr = _feature_expression(bank, as_of_dates, config, with_labels)
    # Arrow buffers are released column by column as pandas takes them over: one copy of
    # the matrix in memory at a time, not two.
    table = expr.to_pyarrow()
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    return to_model_frame(frame, config)


def _feature_expression(bank, as_of_dates, config, with_labels):
    """The feature (and label) query of an extract at some dates, sorted by key."""
    require_extraction_time(bank, with_labels)
    return definitions.build_features(
        FeatureInputs.from_tables(bank.tables),
        as_of_dates,
        config,
        catalogue(bank),
        bank.extracted_at,
        with_labels=with_labels,
    ).order_by(list(KEYS))


def customer_features(
    records: Mapping[str, pd.DataFrame | Sequence[Mapping]],
    products: pd.DataFrame,
    as_of: date,
    config: FeaturesConfig,
) -> pd.DataFrame:
    """Features of one customer from that customer's raw records, by the batch definitions.

    Convenience for notebooks and tests; a service keeps a compiled
    `features.online.CustomerFeatures` per thread instead of compiling per call.
    """
    from features.online import CustomerFeatures

    return CustomerFeatures(products, config).compute(records, as_of)


def to_model_frame(frame: pd.DataFrame, config: FeaturesConfig) -> pd.DataFrame:
    """Fix dtypes: numeric features float64, categoricals with the contract's levels."""
    out = frame.copy(deep=False)  # copy-on-write: the caller's frame is never modified
    numeric = [
        name for name in definitions.feature_names(config) if name not in CATEGORICAL_FEATURES
    ]
    out[numeric] = out[numeric].astype("float64")
    for name, levels in CATEGORY_LEVELS.items():
        if name in out:
            values = out[name].astype("object").where(out[name].notna(), None)
            out[name] = (
                pd.Categorical(values, categories=list(levels))
                if levels is not None
                else values.astype("category")
            )
    return out.copy()  # one consolidated block: later column additions stay cheap
