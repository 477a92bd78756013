"""The outbox against a real local HTTP receiver: outages, dead letters, a killed deliverer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from serving.outbox import DEAD, DELIVERED, DeliveryPolicy, deliver, open_outbox, sign, task_id

SECRET = "s3cret"
FAST = DeliveryPolicy(max_attempts=6, backoff_seconds=0.02, timeout_seconds=5, lease_seconds=1)


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


def drain(outbox, receiver, policy=FAST, seconds=30):
    deadline = time.monotonic() + seconds
    while outbox.counts().get("pending", 0) and time.monotonic() < deadline:
        deliver(outbox, receiver.url, SECRET, policy)
        time.sleep(0.05)


def test_enqueue_is_idempotent_per_campaign(tmp_path):
    outbox = open_outbox(f"sqlite:///{tmp_path / 'o.db'}")
    assert outbox.enqueue(tasks(10)) == 10
    assert outbox.enqueue(tasks(10)) == 0  # the same campaign run again adds nothing
    assert outbox.enqueue(tasks(10, campaign="c2")) == 10
    assert outbox.counts() == {"pending": 20}


def test_an_outage_loses_nothing_and_delivers_each_task_once(tmp_path):
    receiver = Receiver(fail_first=25)
    try:
        outbox = open_outbox(f"sqlite:///{tmp_path / 'o.db'}")
        outbox.enqueue(tasks(40))
        drain(outbox, receiver)
        assert outbox.counts() == {DELIVERED: 40}
        expected = {task_id("c1", f"C{i:04d}", "retention_callback") for i in range(40)}
        assert sorted(receiver.accepted) == sorted(expected)  # each once, none missing
        assert receiver.bad_signatures == 0
    finally:
        receiver.close()


def test_a_task_failing_every_attempt_is_parked_with_its_error(tmp_path):
    receiver = Receiver(always_fail=True)
    try:
        outbox = open_outbox(f"sqlite:///{tmp_path / 'o.db'}")
        outbox.enqueue(tasks(3))
        drain(outbox, receiver)
        assert outbox.counts() == {DEAD: 3}
        dead = outbox.dead()
        assert (dead["attempts"] == FAST.max_attempts).all()
        assert dead["last_error"].str.contains("HTTP 503").all()
    finally:
        receiver.close()


def test_an_unreachable_crm_is_retried_not_lost(tmp_path):
    outbox = open_outbox(f"sqlite:///{tmp_path / 'o.db'}")
    outbox.enqueue(tasks(2))
    outcome = deliver(outbox, "http://127.0.0.1:9/nothing", SECRET, FAST)
    # One failed attempt each; both wait for their retry, neither is lost nor parked yet.
    assert outcome == {"delivered": 0, "retried": 2, "dead": 0}
    assert outbox.counts() == {"pending": 2}


def test_a_killed_deliverer_is_resumed_without_loss(tmp_path):
    receiver = Receiver(delay=0.05)
    db = tmp_path / "o.db"
    try:
        outbox = open_outbox(f"sqlite:///{db}")
        outbox.enqueue(tasks(60))
        script = (
            "import sys; from serving.outbox import *; "
            "deliver(open_outbox(sys.argv[1]), sys.argv[2], sys.argv[3], "
            "DeliveryPolicy(backoff_seconds=0.02, lease_seconds=1, batch=10))"
        )
        worker = subprocess.Popen(
            [sys.executable, "-c", script, f"sqlite:///{db}", receiver.url, SECRET],
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


def test_payload_names_the_task_without_feature_values(tmp_path):
    receiver = Receiver()
    try:
        outbox = open_outbox(f"sqlite:///{tmp_path / 'o.db'}")
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
