"""Online feature store: the latest features per customer, for look-ups by id.

Batch scoring publishes every customer's feature row; the API reads rows by id. The
default store is one SQLite file (no server to run); `redis://` URLs name a Redis server,
for several API hosts. Either way a publish replaces the whole set at once, so a reader
sees the previous snapshot or the new one, never a mix. Each publish stores its column
layout with its rows (`RowCodec`), so a store outlives a change of feature set: the
model's schema decides what it reads.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import ConfigError
from serving.rows import FeatureRows

SCHEMA = """
CREATE TABLE IF NOT EXISTS feature_rows (customer_id TEXT PRIMARY KEY, row BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS feature_layout (layout TEXT NOT NULL);
"""


class RowCodec:
    """How a feature row is stored: its numeric columns as float64 bytes (exact, and ~100×
    cheaper to write than JSON: a 1 M-customer publish is seconds, not minutes), then the
    other columns (tier, channel, as-of time...) as a JSON list. The layout (column names)
    is stored once per publish, beside the rows, and replaced with them."""

    def __init__(self, numeric: list[str], other: list[str]) -> None:
        self.numeric, self.other = numeric, other
        self._numeric_bytes = 8 * len(numeric)

    @classmethod
    def of(cls, features: pd.DataFrame) -> RowCodec:
        columns = [name for name in features.columns if name != "customer_id"]
        numeric = [
            name
            for name in columns
            if pd.api.types.is_numeric_dtype(features[name].dtype)
            and not isinstance(features[name].dtype, pd.CategoricalDtype)
        ]
        return cls(numeric, [name for name in columns if name not in set(numeric)])

    def to_json(self) -> str:
        return json.dumps({"numeric": self.numeric, "other": self.other})

    @classmethod
    def from_json(cls, text: str | bytes) -> RowCodec:
        layout = json.loads(text)
        return cls(layout["numeric"], layout["other"])

    def encode(self, features: pd.DataFrame) -> list[tuple[str, bytes]]:
        """(customer id, row bytes) per customer."""
        if features["customer_id"].duplicated().any():
            raise ValueError("publish expects one feature row per customer")
        numeric = features[self.numeric].to_numpy(dtype="float64", na_value=np.nan)
        other = [_plain_column(features[name]) for name in self.other]
        ids = features["customer_id"].astype(str).tolist()
        texts = [json.dumps(values).encode() for values in zip(*other, strict=True)] or [b""] * len(
            ids
        )
        return [
            (customer_id, numeric[i].tobytes() + text)
            for i, (customer_id, text) in enumerate(zip(ids, texts, strict=True))
        ]

    def decode(self, customer_id: str, row: bytes) -> dict:
        numbers = np.frombuffer(row[: self._numeric_bytes], dtype="float64").tolist()
        others = json.loads(row[self._numeric_bytes :]) if self.other else []
        return {
            "customer_id": customer_id,
            **dict(zip(self.numeric, numbers, strict=True)),
            **dict(zip(self.other, others, strict=True)),
        }


class SQLiteFeatureStore:
    """`sqlite:///path/to/file.db`. One connection per thread (SQLite connections are not
    shared across threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as connection:
            connection.execute("PRAGMA journal_mode=WAL")  # readers never wait for a publish
            connection.executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        if getattr(self._local, "connection", None) is None:
            self._local.connection = sqlite3.connect(self.path, timeout=30)
        return self._local.connection

    def publish(self, features: pd.DataFrame) -> int:
        """Replace the store's contents with these rows (one per customer); returns the count."""
        codec = RowCodec.of(features)
        records = codec.encode(features)
        connection = self._connection()
        with connection:  # one transaction: readers see the old set or the new one
            connection.execute("DELETE FROM feature_rows")
            connection.execute("DELETE FROM feature_layout")
            connection.execute("INSERT INTO feature_layout VALUES (?)", (codec.to_json(),))
            connection.executemany("INSERT INTO feature_rows VALUES (?, ?)", records)
        return len(records)

    def lookup(self, customer_ids: list[str]) -> tuple[FeatureRows, list[str]]:
        """Feature rows of the ids found (in request order) and the ids not found."""
        if not customer_ids:
            return FeatureRows(records=[]), []
        placeholders = ",".join("?" * len(customer_ids))
        # One statement, so the layout and the rows come from the same publish (two
        # SELECTs outside a transaction could straddle one).
        fetched = (
            self._connection()
            .execute(
                "SELECT layout, customer_id, row FROM feature_rows, feature_layout "
                f"WHERE customer_id IN ({placeholders})",
                customer_ids,
            )
            .fetchall()
        )
        found = {customer_id: row for _, customer_id, row in fetched}
        codec = RowCodec.from_json(fetched[0][0]) if fetched else None
        return _rows(customer_ids, found, codec)

    def count(self) -> int:
        return self._connection().execute("SELECT count(*) FROM feature_rows").fetchone()[0]


class RedisFeatureStore:
    """`redis://host:port/db`: one hash of customer id → row, plus the layout under a
    field no customer id can take. A publish fills a staging hash and renames it over the
    live one (RENAME is atomic), so one HMGET answers a look-up of any number of ids."""

    KEY = "retain:features"
    LAYOUT = "\x00layout"
    PUBLISH_CHUNK_ROWS = 10_000  # rows per HSET: bounded request size

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError:
            raise ConfigError(
                "serving.feature_store_url: a redis:// store needs the Redis client: install "
                "Retain with its `redis` extra (uv sync --extra redis)"
            ) from None

        self._client = redis.Redis.from_url(url, socket_connect_timeout=5)
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise ConfigError(
                f"serving.feature_store_url: cannot reach Redis at {_host(url)} ({exc}); "
                "expected a running server, as redis://host:port/db"
            ) from None

    def publish(self, features: pd.DataFrame) -> int:
        """Replace the store's contents with these rows (one per customer); returns the count."""
        codec = RowCodec.of(features)
        records = codec.encode(features)
        staging = f"{self.KEY}:staging:{uuid.uuid4().hex}"
        try:
            self._client.hset(staging, self.LAYOUT, codec.to_json())
            size = self.PUBLISH_CHUNK_ROWS
            for start in range(0, len(records), size):
                self._client.hset(staging, mapping=dict(records[start : start + size]))
            self._client.rename(staging, self.KEY)
        finally:
            self._client.delete(staging)  # a failed publish leaves no half-written hash
        return len(records)

    def lookup(self, customer_ids: list[str]) -> tuple[FeatureRows, list[str]]:
        """Feature rows of the ids found (in request order) and the ids not found."""
        if not customer_ids:
            return FeatureRows(records=[]), []
        layout, *values = self._client.hmget(self.KEY, [self.LAYOUT, *customer_ids])
        found = {
            customer_id: value
            for customer_id, value in zip(customer_ids, values, strict=True)
            if value is not None and customer_id != self.LAYOUT
        }
        return _rows(customer_ids, found, layout and RowCodec.from_json(layout))

    def count(self) -> int:
        return max(self._client.hlen(self.KEY) - 1, 0)  # the layout field is not a row


FeatureStore = SQLiteFeatureStore | RedisFeatureStore


def open_store(url: str) -> FeatureStore:
    """The store a URL names.

    Raises:
        ConfigError: a scheme this build does not support, or a server that cannot be reached.
    """
    if url.startswith("sqlite:///"):
        return SQLiteFeatureStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("redis://", "rediss://")):
        return RedisFeatureStore(url)
    raise ConfigError(
        f"serving.feature_store_url: unsupported store {url!r}; expected sqlite:///path.db "
        "or redis://host:port/db"
    )


def _rows(customer_ids, found: dict, codec: RowCodec | None) -> tuple[FeatureRows, list[str]]:
    """Decoded rows of the ids found, in request order, and the ids not found."""
    rows = [codec.decode(key, found[key]) for key in customer_ids if key in found]
    return FeatureRows(records=rows), [key for key in customer_ids if key not in found]


def _plain_column(column: pd.Series) -> list:
    """JSON-ready values: text, numbers, ISO times; None where missing."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return [None if pd.isna(value) else value.isoformat() for value in column]
    values = column.astype("object")
    return [_plain(value) for value in values.where(values.notna(), None)]


def _host(url: str) -> str:
    """host:port of a URL, never its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"


def _plain(value):
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
        return None if isinstance(value, float) and math.isnan(value) else value
    return value if isinstance(value, (int, float, str, bool)) else str(value)
