"""The durable hand-off of callback and offer tasks to the bank's CRM.

`retain score` writes each scheduled task into the outbox (a SQLite file by default) in the
same run that writes the lists; a deliverer posts pending tasks to the CRM webhook. Nothing
is lost: a task leaves `pending` only when the CRM answered 2xx (`delivered`) or after
`max_attempts` failures (`dead`, with the last error, for a person to look at). Nothing is
applied twice: every post carries the task's idempotency key (`Idempotency-Key`, stable per
campaign, customer, action and product) so a CRM that saw a task already can ignore a
repeat; repeats only happen when a deliverer dies between the CRM's answer and recording it.
Each body is signed: `X-Retain-Signature: sha256=<HMAC of timestamp.body>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd

from retain.errors import ConfigError

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
SECRET_ENV = "RETAIN_WEBHOOK_SECRET"

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    leased_until REAL,
    last_error TEXT,
    created_at REAL NOT NULL,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS tasks_due ON tasks (status, next_attempt_at);
"""


def task_id(campaign_id: str, customer_id: str, action: str, product_id: str = "") -> str:
    """The idempotency key: the same task of the same campaign always has the same id."""
    text = f"{campaign_id}|{customer_id}|{action}|{product_id}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    backoff_seconds: float = 2.0  # first retry after this, doubling up to the cap
    backoff_cap_seconds: float = 3600.0
    timeout_seconds: float = 10.0
    lease_seconds: float = 60.0  # a claimed task returns to the queue if its deliverer dies
    batch: int = 50


class Outbox:
    """Tasks in a SQLite file; every change is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def enqueue(self, tasks: pd.DataFrame) -> int:
        """Add tasks (one row each: campaign_id, customer_id, action, product_id and any
        payload columns). Returns how many were new: re-running a campaign adds none."""
        now = time.time()
        rows = []
        for record in tasks.to_dict("records"):
            payload = {key: _plain(value) for key, value in record.items()}
            key = task_id(
                str(record["campaign_id"]),
                str(record["customer_id"]),
                str(record["action"]),
                str(record.get("product_id") or ""),
            )
            payload["task_id"] = key
            rows.append(
                (
                    key,
                    str(record["campaign_id"]),
                    str(record["customer_id"]),
                    str(record["action"]),
                    json.dumps(payload, sort_keys=True),
                    now,
                    now,
                )
            )
        before = self._db.total_changes
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO tasks (task_id, campaign_id, customer_id, action, "
                "payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return self._db.total_changes - before

    def claim(self, limit: int, lease_seconds: float) -> list[tuple[str, str, int]]:
        """Due pending tasks not leased by a live deliverer, leased to this one."""
        now = time.time()
        with self._transaction():
            rows = self._db.execute(
                "SELECT task_id, payload, attempts FROM tasks WHERE status = 'pending' "
                "AND next_attempt_at <= ? AND (leased_until IS NULL OR leased_until < ?) "
                "ORDER BY next_attempt_at LIMIT ?",
                (now, now, limit),
            ).fetchall()
            self._db.executemany(
                "UPDATE tasks SET leased_until = ? WHERE task_id = ?",
                [(now + lease_seconds, row[0]) for row in rows],
            )
        return rows

    def delivered(self, key: str) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE tasks SET status = 'delivered', delivered_at = ?, leased_until = NULL "
                "WHERE task_id = ?",
                (time.time(), key),
            )

    def failed(self, key: str, attempts: int, error: str, policy: DeliveryPolicy) -> str:
        attempts += 1
        status = DEAD if attempts >= policy.max_attempts else PENDING
        delay = min(policy.backoff_seconds * 2 ** (attempts - 1), policy.backoff_cap_seconds)
        with self._transaction():
            self._db.execute(
                "UPDATE tasks SET status = ?, attempts = ?, next_attempt_at = ?, "
                "last_error = ?, leased_until = NULL WHERE task_id = ?",
                (status, attempts, time.time() + delay, error[:500], key),
            )
        return status

    def counts(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT status, count(*) FROM tasks GROUP BY status"))

    def dead(self) -> pd.DataFrame:
        return pd.read_sql(
            "SELECT task_id, campaign_id, customer_id, action, attempts, last_error "
            "FROM tasks WHERE status = 'dead' ORDER BY created_at",
            self._db,
        )

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")  # one writer at a time: no double claims

    def __exit__(self, kind, value, traceback):
        self.db.execute("ROLLBACK" if kind else "COMMIT")


def open_outbox(url: str) -> Outbox:
    if url.startswith("sqlite:///"):
        return Outbox(Path(url.removeprefix("sqlite:///")))
    raise ConfigError(f"serving.outbox_url: unsupported outbox {url!r}; expected sqlite:///path.db")


def deliver(
    outbox: Outbox,
    webhook_url: str,
    secret: str,
    policy: DeliveryPolicy = DeliveryPolicy(),
    until_idle: bool = True,
    client: httpx.Client | None = None,
) -> dict[str, int]:
    """Post due tasks until none is due (or once, `until_idle=False`). Returns counts of
    this run: delivered, retried, dead."""
    outcome = {"delivered": 0, "retried": 0, "dead": 0}
    own_client = client is None
    client = client or httpx.Client(timeout=policy.timeout_seconds)
    try:
        while True:
            claimed = outbox.claim(policy.batch, policy.lease_seconds)
            if not claimed:
                break
            for key, payload, attempts in claimed:
                body = payload.encode()
                stamp = str(int(time.time()))
                try:
                    response = client.post(
                        webhook_url,
                        content=body,
                        headers={
                            "content-type": "application/json",
                            "Idempotency-Key": key,
                            "X-Retain-Timestamp": stamp,
                            "X-Retain-Signature": sign(secret, stamp, body),
                        },
                    )
                    error = (
                        None
                        if 200 <= response.status_code < 300
                        else (f"HTTP {response.status_code}: {response.text[:200]}")
                    )
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                if error is None:
                    outbox.delivered(key)
                    outcome["delivered"] += 1
                else:
                    status = outbox.failed(key, attempts, error, policy)
                    outcome["dead" if status == DEAD else "retried"] += 1
            if not until_idle:
                break
    finally:
        if own_client:
            client.close()
    return outcome


def webhook_secret() -> str:
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise ConfigError(
            f"{SECRET_ENV} is not set: the CRM verifies each task's signature with it"
        )
    return secret


def _plain(value):
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value if isinstance(value, (str, int, float, bool)) else str(value)
