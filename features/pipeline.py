"""Run the feature definitions: a whole extract to a Parquet file, or one customer in memory."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.backends import BaseBackend

from features import definitions, engine
from features.definitions import CATEGORICAL_FEATURES, KEYS, FeatureInputs
from features.schema import (
    CONTACT_CHANNELS,
    GENDERS,
    INCOME_BANDS,
    SEGMENTS,
    TABLES,
    TIERS,
)
from features.validation import REASON, BankData, stage_table
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
    expr = definitions.build_features(
        FeatureInputs.from_tables(bank.tables), as_of_dates, config, catalogue(bank),
        bank.extracted_at, with_labels,
    ).order_by(list(KEYS))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    expr.to_parquet(partial)
    if partial.is_dir():  # Spark writes a folder of parts; keep one file for everyone else.
        pq.write_table(pq.read_table(partial), out)
        _remove_tree(partial)
    else:
        os.replace(partial, out)
    metadata = pq.read_metadata(out)
    return FeatureBuild(out, metadata.num_rows, metadata.num_columns,
                        tuple(sorted(set(as_of_dates))), time.perf_counter() - started)


def _remove_tree(path: Path) -> None:
    for child in sorted(path.rglob("*"), reverse=True):
        child.unlink() if child.is_file() else child.rmdir()
    path.rmdir()


def customer_features(
    records: Mapping[str, pd.DataFrame | Sequence[Mapping]],
    products: pd.DataFrame,
    as_of: date,
    config: FeaturesConfig,
    con: BaseBackend | None = None,
) -> pd.DataFrame:
    """Features of one customer from that customer's raw records, by the batch definitions.

    Args:
        records: contract tables of this customer: `customers` (one row), and any of
            `holdings`, `transactions`, `interactions`, `balances` (missing = none).
        products: the catalogue (the products table).
        as_of: cut-off date.
        config: feature settings.
        con: a DuckDB connection to reuse; a fresh in-memory one if None.

    Returns:
        One-row model frame with the declared dtypes (empty if the customer is not a customer
        as of that date).

    Raises:
        DataError: a record breaks the data contract (table, column, reason, value).
    """
    con = con or engine.connect(FeaturesConfig())
    frames = {"products": products, **{name: pd.DataFrame(rows) for name, rows in records.items()}}
    if "customers" not in frames or len(frames["customers"]) != 1:
        raise DataError("customer record: expected exactly one row in 'customers'")
    tables = {}
    now = datetime.now(UTC).replace(tzinfo=None)
    for spec in TABLES:
        frame = frames.get(spec.name)
        if frame is None:
            frame = pd.DataFrame({col.name: pd.Series(dtype=_pandas_dtype(col.dtype))
                                  for col in spec.columns})
        raw = engine.memtables(con, {spec.name: _as_arrow(frame)})[spec.name]
        staged = stage_table(spec, raw, tables, now)
        checked = staged.checked()
        bad = checked.filter(checked[REASON].notnull()).select(REASON).limit(3).to_pyarrow()
        if bad.num_rows:
            raise DataError(f"{spec.name}: " + "; ".join(bad.column(REASON).to_pylist()))
        tables[spec.name] = staged.clean(fired=())
    expr = definitions.build_features(
        FeatureInputs.from_tables(tables), [as_of], config, sorted(products["product_id"])
    )
    return to_model_frame(expr.to_pandas(), config)


def _pandas_dtype(dtype: str) -> str:
    return {"string": "string", "int64": "Int64", "float64": "float64", "boolean": "boolean",
            "date": "datetime64[us]", "timestamp": "datetime64[us]"}[dtype]


def _as_arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def to_model_frame(frame: pd.DataFrame, config: FeaturesConfig) -> pd.DataFrame:
    """Fix dtypes: numeric features float64, categoricals with the contract's levels."""
    out = frame.copy()
    numeric = [name for name in definitions.feature_names(config)
               if name not in CATEGORICAL_FEATURES]
    out[numeric] = out[numeric].astype("float64")
    for name, levels in CATEGORY_LEVELS.items():
        if name in out:
            values = out[name].astype("object").where(out[name].notna(), None)
            out[name] = (pd.Categorical(values, categories=list(levels)) if levels is not None
                         else values.astype("category"))
    return out
