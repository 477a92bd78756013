"""Online feature store: the latest features per customer, for look-ups by id.

Batch scoring publishes every customer's feature row; the API reads rows by id. The
default store is one SQLite file (no server to run); `redis://` URLs name a Redis server,
for several API hosts. Either way a publish replaces the whole set at once, so a reader
sees the previous snapshot or the new one, never a mix. Rows are JSON, so a store outlives
a change of feature set: the model's schema decides what it reads.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import uuid
from pathlib import Path

import pandas as pd

from retain.errors import ConfigError
from serving.rows import FeatureRows

SCHEMA = """
CREATE TABLE IF NOT EXISTS features (
    customer_id TEXT PRIMARY KEY,
    as_of TEXT NOT NULL,
    row TEXT NOT NULL
)
"""


class SQLiteFeatureStore:
    """`sqlite:///path/to/file.db`. One connection per thread (SQLite connections are not
    shared across threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as connection:
            connection.execute("PRAGMA journal_mode=WAL")  # readers never wait for a publish
            connection.execute(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        if getattr(self._local, "connection", None) is None:
            self._local.connection = sqlite3.connect(self.path, timeout=30)
        return self._local.connection

    def publish(self, features: pd.DataFrame) -> int:
        """Replace the store's contents with these rows (one per customer); returns the count."""
        records = _encode(features)
        connection = self._connection()
        with connection:  # one transaction: readers see the old set or the new one
            connection.execute("DELETE FROM features")
            connection.executemany("INSERT INTO features VALUES (?, ?, ?)", records)
        return len(records)

    def lookup(self, customer_ids: list[str]) -> tuple[FeatureRows, list[str]]:
        """Feature rows of the ids found (in request order) and the ids not found."""
        if not customer_ids:
            return FeatureRows(records=[]), []
        placeholders = ",".join("?" * len(customer_ids))
        query = (
            f"SELECT customer_id, as_of, row FROM features WHERE customer_id IN ({placeholders})"
        )
        found = {
            customer_id: (as_of, row)
            for customer_id, as_of, row in self._connection().execute(query, customer_ids)
        }
        rows, missing = [], []
        for customer_id in customer_ids:
            if customer_id in found:
                as_of, row = found[customer_id]
                rows.append({"customer_id": customer_id, **json.loads(row), "as_of": as_of})
            else:
                missing.append(customer_id)
        return FeatureRows(records=rows), missing

    def count(self) -> int:
        return self._connection().execute("SELECT count(*) FROM features").fetchone()[0]


class RedisFeatureStore:
    """`redis://host:port/db`: one hash of customer id → row. A publish fills a staging
    hash and renames it over the live one (RENAME is atomic), so one HMGET answers a
    look-up of any number of ids."""

    KEY = "retain:features"
    PUBLISH_CHUNK_ROWS = 10_000  # rows per HSET: bounded request size

    def __init__(self, url: str) -> None:
        import redis

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
        records = _encode(features)
        staging = f"{self.KEY}:staging:{uuid.uuid4().hex}"
        try:
            size = self.PUBLISH_CHUNK_ROWS
            for start in range(0, len(records), size):
                chunk = records[start : start + size]
                self._client.hset(
                    staging,
                    mapping={customer_id: f"{as_of}\t{row}" for customer_id, as_of, row in chunk},
                )
            if records:
                self._client.rename(staging, self.KEY)
            else:
                self._client.delete(self.KEY)
        finally:
            self._client.delete(staging)  # a failed publish leaves no half-written hash
        return len(records)

    def lookup(self, customer_ids: list[str]) -> tuple[FeatureRows, list[str]]:
        """Feature rows of the ids found (in request order) and the ids not found."""
        if not customer_ids:
            return FeatureRows(records=[]), []
        rows, missing = [], []
        for customer_id, value in zip(
            customer_ids, self._client.hmget(self.KEY, customer_ids), strict=True
        ):
            if value is None:
                missing.append(customer_id)
                continue
            as_of, row = value.decode().split("\t", 1)
            rows.append({"customer_id": customer_id, **json.loads(row), "as_of": as_of})
        return FeatureRows(records=rows), missing

    def count(self) -> int:
        return self._client.hlen(self.KEY)


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


def _encode(features: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(customer id, as-of ISO time, row JSON) per customer."""
    if features["customer_id"].duplicated().any():
        raise ValueError("publish expects one feature row per customer")
    return [
        (
            str(row["customer_id"]),
            pd.Timestamp(row["as_of"]).isoformat(),
            json.dumps({k: _plain(v) for k, v in row.items() if k not in ("customer_id", "as_of")}),
        )
        for row in features.to_dict("records")
    ]


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
