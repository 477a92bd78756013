"""Run the feature definitions: a whole extract to a Parquet file, or one customer in memory."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ibis
import pandas as pd
import pyarrow.parquet as pq

from common.config import FeaturesConfig
from common.errors import DataError
from common.files import atomic_path
from features import definitions
from features.attributes import AttributeCoverage, attribute_coverage
from features.definitions import KEYS, FeatureInputs
from features.model_frame import to_model_frame
from features.validation import BankData

# The modules whose code decides a feature's value: the contract (types), validation and
# staging (which rows are kept), the definitions (the families' declarations and
# expressions, the labels, how they are joined) and how their result becomes a model frame.
FEATURE_CODE = (
    "schema",
    "validation",
    "staging",
    "expressions",
    "spec",
    "customers",
    "attributes",
    "market",
    "transactions",
    "products",
    "interactions",
    "balances",
    "value",
    "labels",
    "definitions",
    "pipeline",
    "model_frame",
)


def feature_code_digest() -> str:
    """SHA-256 of the source of the modules in `FEATURE_CODE`: what a cache of computed
    features is keyed on, so editing a help text or the simulator keeps the cache."""
    digest = hashlib.sha256()
    for module in FEATURE_CODE:
        digest.update((Path(__file__).parent / f"{module}.py").read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class FeatureBuild:
    """What `build_feature_file` wrote, and where its customer attributes came from."""

    path: Path
    rows: int
    columns: int
    as_of_dates: tuple[date, ...]
    seconds: float
    attributes: AttributeCoverage


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
        Where it went, its size, how long it took (the attribute count included), and how
        many rows read their attributes as of extraction.
    """
    started = time.perf_counter()
    expr = _feature_expression(bank, as_of_dates, config, with_labels)
    with atomic_path(out) as partial:
        expr.to_parquet(partial)
        # Over the written keys, not the query: counting on the query would compute it
        # again. Read before the rewrite below: Spark reads its own parts, not pyarrow's.
        keys = ibis.get_backend(expr).read_parquet(str(partial))
        coverage = attribute_coverage(keys, bank.tables.get("customer_attributes"))
        if partial.is_dir():  # Spark writes a folder of parts; keep one file for everyone else.
            parts = pq.read_table(partial)
            shutil.rmtree(partial)
            pq.write_table(parts, partial)
    metadata = pq.read_metadata(out)
    return FeatureBuild(
        out,
        metadata.num_rows,
        metadata.num_columns,
        tuple(sorted(set(as_of_dates))),
        time.perf_counter() - started,
        coverage,
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
