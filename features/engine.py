"""Execution engines for the Ibis definitions: DuckDB on one machine, PySpark on a cluster."""

from __future__ import annotations

import itertools
from pathlib import Path

import ibis
from ibis.backends import BaseBackend

from common.config import FeaturesConfig
from common.errors import RetainError

_temp_names = itertools.count()


def connect(config: FeaturesConfig) -> BaseBackend:
    """Open the configured engine.

    Args:
        config: `engine`, DuckDB limits or the Spark master to use.

    Returns:
        An Ibis backend: DuckDB in memory (spilling to disk) or PySpark.
    """
    if config.engine == "duckdb":
        con = ibis.duckdb.connect()
        # Output order is set explicitly where it matters (ORDER BY); without this DuckDB
        # spends effort keeping scan order through parallel operators.
        con.raw_sql("SET preserve_insertion_order = false")
        # DuckDB 2.0 pushes a TRY_CAST over a CSV column into the reader as a plain cast:
        # one unreadable value in a key column (e.g. holdings.opened_at) then fails the
        # whole load instead of being quarantined (tests/features/test_validation.py).
        con.raw_sql("SET disabled_optimizers = 'type_pushdown'")
        if config.duckdb_threads:
            con.raw_sql(f"SET threads = {int(config.duckdb_threads)}")
        if config.duckdb_memory_limit:
            con.raw_sql(f"SET memory_limit = '{config.duckdb_memory_limit}'")
        return con
    return _connect_spark(config.spark_master)


def _connect_spark(master: str) -> BaseBackend:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise RetainError(
            "features.engine = 'spark' needs PySpark: install the 'spark' extra "
            "(`uv sync --extra spark`)"
        ) from None
    session = (
        SparkSession.builder.master(master)
        .appName("retain-features")
        # Timestamps in the contract are naive UTC; keep Spark from shifting them.
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return ibis.pyspark.connect(session)


def read_file(con: BaseBackend, path: Path) -> ibis.Table:
    """Read one raw table file; CSV columns arrive as text and are typed by validation."""
    name = f"raw_{path.stem}_{next(_temp_names)}"
    if path.name.lower().endswith((".csv", ".csv.gz")):
        if con.name == "duckdb":
            return con.read_csv(str(path), table_name=name, all_varchar=True, header=True)
        return con.read_csv(str(path), table_name=name, header=True, inferSchema=False)
    target = str(path / "*.parquet") if path.is_dir() and con.name == "duckdb" else str(path)
    return con.read_parquet(target, table_name=name)


def materialize(con: BaseBackend, expr: ibis.Table, prefix: str) -> ibis.Table:
    """Compute an expression once so later queries do not repeat its work."""
    name = f"{prefix}_{next(_temp_names)}"
    if con.name == "duckdb":
        return con.create_table(name, expr, temp=True)
    return expr.cache()
