"""The durable hand-off of callback and offer tasks to the bank's CRM.

`retain score` writes each scheduled task into the outbox (a SQLite file by default, or a
PostgreSQL database several deliverers share) in the same run that writes the lists; a
deliverer posts pending tasks to the CRM webhook. Nothing is lost: a task leaves `pending`
only when the CRM answered 2xx (`delivered`) or after `max_attempts` failures (`dead`, with
the last error, for a person to look at). Nothing is applied twice: every post carries the
task's idempotency key (`Idempotency-Key`, stable per campaign, customer, action and
product) so a CRM that saw a task already can ignore a repeat; repeats only happen when a
deliverer dies between the CRM's answer and recording it, or outlives its lease. Each body
is signed: `X-Retain-Signature: sha256=<HMAC of timestamp.body>`.
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

from common.errors import ConfigError

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
SECRET_ENV = "RETAIN_WEBHOOK_SECRET"

# Times are epoch seconds as DOUBLE PRECISION (REAL in SQLite): PostgreSQL's 4-byte `real`
# would round them to about two minutes.
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tasks (
        task_id TEXT PRIMARY KEY,
        campaign_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        action TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at DOUBLE PRECISION NOT NULL,
        leased_until DOUBLE PRECISION,
        last_error TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        delivered_at DOUBLE PRECISION
    )""",
    "CREATE INDEX IF NOT EXISTS tasks_due ON tasks (status, next_attempt_at)",
)
SCHEMA_LOCK = 7_305_128_840  # PostgreSQL advisory lock held while creating the schema


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

    def __post_init__(self) -> None:
        if self.lease_seconds <= 2 * self.timeout_seconds:
            raise ValueError(
                f"lease_seconds ({self.lease_seconds}) must exceed two webhook timeouts "
                f"({2 * self.timeout_seconds}): a post may take that long, and a task must "
                "not return to the queue while it is being posted"
            )


class Outbox:
    """Tasks in a SQL database, every change one transaction: the logic of every store. A
    store connects, and sets the few words of SQL its database says differently."""

    begin = "BEGIN"  # opens a transaction
    lock_claimed = ""  # ends the claim's SELECT
    placeholder = "?"  # what the `?` in the statements below stand for

    def __init__(self, db) -> None:
        self._db = db
        with self._transaction():
            for statement in SCHEMA:
                self._execute(statement)

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
        with self._transaction():
            return self._executemany(
                "INSERT INTO tasks (task_id, campaign_id, customer_id, action, payload, "
                "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                rows,
            )

    def claim(self, limit: int, lease_seconds: float) -> list[tuple[str, str, int]]:
        """Due pending tasks not leased by a live deliverer, leased to this one."""
        now = time.time()
        with self._transaction():
            rows = self._execute(
                "SELECT task_id, payload, attempts FROM tasks WHERE status = 'pending' "
                "AND next_attempt_at <= ? AND (leased_until IS NULL OR leased_until < ?) "
                "ORDER BY next_attempt_at LIMIT ?" + self.lock_claimed,
                (now, now, limit),
            ).fetchall()
            self._executemany(
                "UPDATE tasks SET leased_until = ? WHERE task_id = ?",
                [(now + lease_seconds, row[0]) for row in rows],
            )
        return rows

    def release(self, keys: list[str]) -> None:
        """Hand claimed tasks back unposted, for any deliverer to claim now."""
        with self._transaction():
            self._executemany(
                "UPDATE tasks SET leased_until = NULL WHERE task_id = ?", [(key,) for key in keys]
            )

    def delivered(self, key: str) -> None:
        with self._transaction():
            self._execute(
                "UPDATE tasks SET status = 'delivered', delivered_at = ?, leased_until = NULL "
                "WHERE task_id = ?",
                (time.time(), key),
            )

    def failed(self, key: str, attempts: int, error: str, policy: DeliveryPolicy) -> str:
        attempts += 1
        status = DEAD if attempts >= policy.max_attempts else PENDING
        delay = min(policy.backoff_seconds * 2 ** (attempts - 1), policy.backoff_cap_seconds)
        with self._transaction():
            self._execute(
                "UPDATE tasks SET status = ?, attempts = ?, next_attempt_at = ?, "
                "last_error = ?, leased_until = NULL WHERE task_id = ?",
                (status, attempts, time.time() + delay, error[:500], key),
            )
        return status

    def scheduled(self, actions: tuple[str, ...], exclude_campaign: str) -> pd.DataFrame:
        """customer_id and scheduled_for of the tasks of these actions that were not
        given up (not dead), from every campaign but `exclude_campaign`."""
        marks = ", ".join("?" for _ in actions)
        cursor = self._execute(
            f"SELECT customer_id, payload FROM tasks WHERE status <> 'dead' "
            f"AND action IN ({marks}) AND campaign_id <> ?",
            (*actions, exclude_campaign),
        )
        rows = [
            (customer, json.loads(payload).get("scheduled_for")) for customer, payload in cursor
        ]
        frame = pd.DataFrame(rows, columns=["customer_id", "scheduled_for"])
        frame["scheduled_for"] = pd.to_datetime(frame["scheduled_for"], errors="coerce")
        return frame

    def counts(self) -> dict[str, int]:
        return dict(self._execute("SELECT status, count(*) FROM tasks GROUP BY status").fetchall())

    def dead(self) -> pd.DataFrame:
        cursor = self._execute(
            "SELECT task_id, campaign_id, customer_id, action, attempts, last_error "
            "FROM tasks WHERE status = 'dead' ORDER BY created_at"
        )
        return pd.DataFrame(cursor.fetchall(), columns=[column[0] for column in cursor.description])

    def _execute(self, sql: str, params: tuple = ()):
        return self._db.execute(sql.replace("?", self.placeholder), params)

    def _executemany(self, sql: str, rows: list[tuple]) -> int:
        """Runs `sql` once per row; returns how many rows it changed in all."""
        cursor = self._db.cursor()
        cursor.executemany(sql.replace("?", self.placeholder), rows)
        return cursor.rowcount

    def _transaction(self):
        return _Transaction(self._db, self.begin)


class SqliteOutbox(Outbox):
    """A SQLite file in WAL mode: a transaction takes the one write lock, so claims by
    concurrent deliverers queue up and never overlap."""

    begin = "BEGIN IMMEDIATE"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        super().__init__(db)


class PostgresOutbox(Outbox):
    """A PostgreSQL database: concurrent deliverers claim at once, each skipping the rows
    another is claiming, so no task is leased to two."""

    lock_claimed = " FOR UPDATE SKIP LOCKED"
    placeholder = "%s"

    def __init__(self, url: str) -> None:
        db = _connect_postgres(url)
        # Deliverers starting together on a new database would race to create the table.
        db.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            super().__init__(db)
        finally:
            db.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def _connect_postgres(url: str):
    psycopg = _psycopg()
    try:
        return psycopg.connect(url, autocommit=True)  # transactions are opened explicitly
    except psycopg.Error as exc:
        raise ConfigError(
            f"serving.outbox_url: cannot open the PostgreSQL outbox at {_where(url)} "
            f"({str(exc).splitlines()[0]}); expected a reachable server and an existing "
            "database, as postgresql://user@host:port/db"
        ) from exc


def _psycopg():
    """The PostgreSQL driver, imported only when a postgresql:// outbox is used."""
    try:
        import psycopg
        import psycopg.conninfo
    except ImportError:
        raise ConfigError(
            "serving.outbox_url: a postgresql:// outbox needs the PostgreSQL driver: install "
            "Retain with its `postgres` extra (uv sync --extra postgres)"
        ) from None
    return psycopg


def _where(url: str) -> str:
    """Host, port and database of a PostgreSQL URL, never its password."""
    psycopg = _psycopg()
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "an unreadable URL"
    host, port = params.get("host", "localhost"), params.get("port", "5432")
    return f"{host}:{port}/{params.get('dbname', '')}"


class _Transaction:
    def __init__(self, db, begin: str) -> None:
        self.db, self.begin = db, begin

    def __enter__(self):
        self.db.execute(self.begin)

    def __exit__(self, kind, value, traceback):
        self.db.execute("ROLLBACK" if kind else "COMMIT")


def open_outbox(url: str) -> Outbox:
    if url.startswith("sqlite:///"):
        return SqliteOutbox(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresOutbox(url)
    raise ConfigError(
        f"serving.outbox_url: unsupported outbox {url!r}; expected sqlite:///path.db or "
        "postgresql://user@host:port/db"
    )


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
            claimed_at = time.time()
            claimed = outbox.claim(policy.batch, policy.lease_seconds)
            if not claimed:
                break
            # Start no post that could outlast the lease (a post may take up to about two
            # timeouts): another deliverer could claim that task meanwhile and post it too.
            last_start = claimed_at + policy.lease_seconds - 2 * policy.timeout_seconds
            for position, (key, payload, attempts) in enumerate(claimed):
                if time.time() > last_start:
                    outbox.release([row[0] for row in claimed[position:]])
                    break
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
