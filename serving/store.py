"""Online feature store: the latest features per customer, for look-ups by id.

Batch scoring publishes every customer's feature row; the API reads rows by id. The
default store is one SQLite file (no server to run); a publish replaces the whole set in
one transaction, so a reader sees the previous snapshot or the new one, never a mix.
Rows are JSON, so a store outlives a change of feature set: the model's schema decides
what it reads.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from pathlib import Path

import pandas as pd

from retain.errors import ConfigError

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
        if features["customer_id"].duplicated().any():
            raise ValueError("publish expects one feature row per customer")
        records = [
            (
                str(row["customer_id"]),
                pd.Timestamp(row["as_of"]).isoformat(),
                json.dumps({k: _plain(v) for k, v in row.items() if k not in ("customer_id",)}),
            )
            for row in features.to_dict("records")
        ]
        connection = self._connection()
        with connection:  # one transaction: readers see the old set or the new one
            connection.execute("DELETE FROM features")
            connection.executemany("INSERT INTO features VALUES (?, ?, ?)", records)
        return len(records)

    def lookup(self, customer_ids: list[str]) -> tuple[pd.DataFrame, list[str]]:
        """Feature rows of the ids found (in request order) and the ids not found."""
        if not customer_ids:
            return pd.DataFrame(), []
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
        frame = pd.DataFrame(rows)
        if len(frame):
            frame["as_of"] = pd.to_datetime(frame["as_of"])
        return frame, missing

    def count(self) -> int:
        return self._connection().execute("SELECT count(*) FROM features").fetchone()[0]


def open_store(url: str) -> SQLiteFeatureStore:
    """The store a URL names.

    Raises:
        ConfigError: a scheme this build does not support.
    """
    if url.startswith("sqlite:///"):
        return SQLiteFeatureStore(Path(url.removeprefix("sqlite:///")))
    raise ConfigError(
        f"serving.feature_store_url: unsupported store {url!r}; expected sqlite:///path.db"
    )


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
