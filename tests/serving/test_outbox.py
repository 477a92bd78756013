"""The outbox against a real local HTTP receiver: outages, dead letters, a killed deliverer,
concurrent deliverers; each test on both stores, a SQLite file and a PostgreSQL database."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import psycopg
import pytest
from servers import free_port, postgres_server

from common.errors import ConfigError
from serving.outbox import DEAD, DELIVERED, DeliveryPolicy, deliver, open_outbox, sign, task_id

SECRET = "s3cret"
FAST = DeliveryPolicy(max_attempts=6, backoff_seconds=0.02, timeout_seconds=0.25, lease_seconds=1)


class Receiver:
    """A CRM stand-in on 127.0.0.1: fails the first `fail_first` requests with 503, can be
    slow, records every request it accepted, checks every signature."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0, always_fail: bool = False):
        self.fail_first, self.delay, self.always_fail = fail_first, delay, always_fail
        self.seen = 0
        self.accepted: list[str] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                stamp = self.headers["X-Retain-Timestamp"]
                if self.headers["X-Retain-Signature"] != sign(SECRET, stamp, body):
                    receiver.bad_signatures += 1
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.seen += 1
                    failing = receiver.always_fail or receiver.seen <= receiver.fail_first
                    if not failing:
                        receiver.accepted.append(self.headers["Idempotency-Key"])
                self.send_response(503 if failing else 200)
                self.end_headers()
                self.wfile.write(b"busy" if failing else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tasks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def tasks(count: int, campaign: str = "c1") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "campaign_id": campaign,
            "customer_id": [f"C{i:04d}" for i in range(count)],
            "action": "retention_callback",
            "product_id": "",
            "priority": 1,
            "due_at": pd.Timestamp("2025-01-03"),
        }
    )


@pytest.fixture(scope="module")
def postgres():
    """One throwaway PostgreSQL server for the module; each test gets its own database."""
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    """The URL of a new, empty outbox in each store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'o.db'}"
    server = request.getfixturevalue("postgres")
    name = re.sub(r"\W", "_", request.node.name).lower()[:63]
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"{server.rsplit('/', 1)[0]}/{name}"


def drain(outbox, receiver, policy=FAST, seconds=30):
    deadline = time.monotonic() + seconds
    while outbox.counts().get("pending", 0) and time.monotonic() < deadline:
        deliver(outbox, receiver.url, SECRET, policy)
        time.sleep(0.05)


def test_enqueue_is_idempotent_per_campaign(url):
    outbox = open_outbox(url)
    assert outbox.enqueue(tasks(10)) == 10
    assert outbox.enqueue(tasks(10)) == 0  # the same campaign run again adds nothing
    assert outbox.enqueue(tasks(10, campaign="c2")) == 10
    assert outbox.counts() == {"pending": 20}


def test_an_outage_loses_nothing_and_delivers_each_task_once(url):
    receiver = Receiver(fail_first=25)
    try:
        outbox = open_outbox(url)
        outbox.enqueue(tasks(40))
        drain(outbox, receiver)
        assert outbox.counts() == {DELIVERED: 40}
        expected = {task_id("c1", f"C{i:04d}", "retention_callback") for i in range(40)}
        assert sorted(receiver.accepted) == sorted(expected)  # each once, none missing
        assert receiver.bad_signatures == 0
    finally:
        receiver.close()


def test_a_task_failing_every_attempt_is_parked_with_its_error(url):
    receiver = Receiver(always_fail=True)
    try:
        outbox = open_outbox(url)
        outbox.enqueue(tasks(3))
        drain(outbox, receiver)
        assert outbox.counts() == {DEAD: 3}
        dead = outbox.dead()
        assert (dead["attempts"] == FAST.max_attempts).all()
        assert dead["last_error"].str.contains("HTTP 503").all()
    finally:
        receiver.close()


def test_an_unreachable_crm_is_retried_not_lost(url):
    outbox = open_outbox(url)
    outbox.enqueue(tasks(2))
    # A retry a minute away: however slow the machine, it is not due again in this call.
    patient = replace(FAST, backoff_seconds=60)
    outcome = deliver(outbox, "http://127.0.0.1:9/nothing", SECRET, patient)
    # One failed attempt each; both wait for their retry, neither is lost nor parked yet.
    assert outcome == {"delivered": 0, "retried": 2, "dead": 0}
    assert outbox.counts() == {"pending": 2}


def test_a_killed_deliverer_is_resumed_without_loss(url):
    receiver = Receiver(delay=0.05)
    try:
        outbox = open_outbox(url)
        outbox.enqueue(tasks(60))
        script = (
            "import sys; from serving.outbox import *; "
            "deliver(open_outbox(sys.argv[1]), sys.argv[2], sys.argv[3], "
            "DeliveryPolicy(backoff_seconds=0.02, timeout_seconds=0.25, lease_seconds=1, batch=10))"
        )
        worker = subprocess.Popen(
            [sys.executable, "-c", script, url, receiver.url, SECRET],
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while len(receiver.accepted) < 15 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(worker.pid, signal.SIGKILL)  # mid-batch, no chance to clean up
        worker.wait()
        assert 0 < len(receiver.accepted) < 60
        time.sleep(FAST.lease_seconds + 0.2)  # its leases expire
        drain(outbox, receiver)
        assert outbox.counts() == {DELIVERED: 60}
        keys = receiver.accepted
        assert set(keys) == {task_id("c1", f"C{i:04d}", "retention_callback") for i in range(60)}
        # A repeat can only be a task whose 200 the killed worker never recorded (at most
        # the one in flight); it carries the same Idempotency-Key, so the CRM drops it.
        assert len(keys) - len(set(keys)) <= 1
    finally:
        receiver.close()


def test_concurrent_deliverers_never_post_a_task_twice(url):
    receiver = Receiver(delay=0.01)
    open_outbox(url).enqueue(tasks(120))
    policy = DeliveryPolicy(backoff_seconds=0.02, lease_seconds=30, batch=5)

    def deliverer(_):
        return deliver(open_outbox(url), receiver.url, SECRET, policy)

    try:
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(deliverer, range(4)))
        assert open_outbox(url).counts() == {DELIVERED: 120}
        expected = {task_id("c1", f"C{i:04d}", "retention_callback") for i in range(120)}
        assert Counter(receiver.accepted) == dict.fromkeys(expected, 1)
        assert sum(outcome["delivered"] for outcome in outcomes) == 120
        assert sum(outcome["delivered"] > 0 for outcome in outcomes) > 1  # they did share
    finally:
        receiver.close()


def test_a_lease_shorter_than_two_timeouts_is_refused():
    with pytest.raises(ValueError, match="lease_seconds"):
        DeliveryPolicy(timeout_seconds=10, lease_seconds=20)


def test_a_slow_crm_never_makes_a_batch_outlive_its_lease(url):
    """Posting a claimed batch takes longer than its lease: the deliverer hands back what
    it could not start in time, so a second deliverer never posts those tasks again."""
    receiver = Receiver(delay=0.15)
    open_outbox(url).enqueue(tasks(30))
    policy = DeliveryPolicy(lease_seconds=1.0, timeout_seconds=0.2, batch=30)

    def deliverer(_):  # keeps coming back, as `retain outbox deliver` on a schedule would
        outbox, deadline = open_outbox(url), time.monotonic() + 30
        while outbox.counts().get("pending", 0) and time.monotonic() < deadline:
            deliver(outbox, receiver.url, SECRET, policy)
            time.sleep(0.05)

    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(deliverer, range(2)))
        assert open_outbox(url).counts() == {DELIVERED: 30}
        assert max(Counter(receiver.accepted).values()) == 1
    finally:
        receiver.close()


def test_deliverers_opening_a_new_outbox_together_share_one_schema(url):
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda _: open_outbox(url).counts(), range(8))) == [{}] * 8


def test_an_unreachable_postgres_names_the_setting_and_host_not_the_password():
    with pytest.raises(ConfigError, match="serving.outbox_url") as raised:
        open_outbox(f"postgresql://retain:hunter2@127.0.0.1:{free_port()}/retain")
    assert "127.0.0.1" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_an_unsupported_outbox_names_both_stores():
    with pytest.raises(ConfigError, match="sqlite:///.*postgresql://"):
        open_outbox("mysql://crm/outbox")


def test_payload_names_the_task_without_feature_values(url):
    receiver = Receiver()
    try:
        outbox = open_outbox(url)
        outbox.enqueue(tasks(1))
        captured = {}
        original = deliver.__globals__["httpx"].Client.post

        def spy(self, url, content=None, headers=None, **kwargs):
            captured["body"], captured["headers"] = json.loads(content), headers
            return original(self, url, content=content, headers=headers, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(deliver.__globals__["httpx"].Client, "post", spy)
            drain(outbox, receiver)
        assert captured["body"]["task_id"] == captured["headers"]["Idempotency-Key"]
        assert captured["body"]["customer_id"] == "C0000"
        assert captured["body"]["due_at"] == "2025-01-03T00:00:00"
    finally:
        receiver.close()
