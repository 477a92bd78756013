"""The BentoML service in-process (Starlette test client): keys, limits, errors, fuzz."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.integration]
KEY = "test-key-1"
HEADERS = {"X-API-Key": KEY}


@pytest.fixture(scope="module")
def client(served, tmp_path_factory):
    from starlette.testclient import TestClient

    config = served["config"]
    open_store(config.feature_store_url).publish(served["features"])
    metrics_dir = tmp_path_factory.mktemp("prometheus")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RETAIN_API_KEYS", f"{KEY}, second-key")
        env.setenv("RETAIN_TRAINING__TRACKING_URI", config.training.tracking_uri)
        env.setenv("RETAIN_OUTPUT_DIR", str(config.output_dir))
        env.setenv("RETAIN_SERVING__RELOAD_CHECK_SECONDS", "0")
        env.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
        from serving.service import Retain

        with TestClient(Retain.to_asgi(), raise_server_exceptions=False) as test_client:
            yield test_client


def test_health_and_metrics_need_no_key(client):
    for path in ("/healthz", "/readyz", "/livez"):
        assert client.get(path).status_code == 200
    assert client.get("/metrics").status_code == 200


def test_every_other_route_needs_a_known_key(client):
    body = {"customer_ids": ["C0000001"]}
    assert client.post("/score", json=body).status_code == 401
    wrong = client.post("/score", json=body, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and wrong.json()["field"] == "X-API-Key"
    assert client.get("/docs.json").status_code == 401
    assert client.get("/docs.json", headers=HEADERS).status_code == 200
    second = client.post("/score", json=body, headers={"X-API-Key": "second-key"})
    assert second.status_code == 200


def test_score_recommend_and_next_best_action_by_id(client, served):
    ids = list(served["features"]["customer_id"].iloc[:3])
    for path, key in (
        ("/score", "churn_probability"),
        ("/recommend", "products"),
        ("/next-best-action", "next_best_action"),
    ):
        response = client.post(path, json={"customer_ids": [*ids, "ZZZ"]}, headers=HEADERS)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["model_versions"] == {"retain-churn": "1", "retain-xsell": "1"}
        assert [r["customer_id"] for r in answer["results"]] == ids
        assert all(key in r for r in answer["results"])
        assert answer["errors"][0]["customer_id"] == "ZZZ"


def test_requests_leave_no_timers_behind(client, served):
    """BentoML's timeout middleware kept every request's timer alive for 30 s (garbage
    collections walking them reached 180 ms); serving/service.py replaces its __call__."""
    import asyncio
    import gc

    from bentoml._internal.server.http.traffic import TimeoutMiddleware

    from serving.service import _timeout_with_cancelled_timer

    assert TimeoutMiddleware.__call__ is _timeout_with_cancelled_timer

    def live_timers() -> int:
        gc.collect()
        return sum(
            isinstance(o, asyncio.TimerHandle) and not o.cancelled() for o in gc.get_objects()
        )

    body = {"customer_ids": [served["features"]["customer_id"].iloc[0]], "reasons": False}
    before = live_timers()
    for _ in range(300):
        assert client.post("/score", json=body, headers=HEADERS).status_code == 200
    assert live_timers() - before < 10


def test_the_bentoml_behaviours_the_fast_path_relies_on(client, served, monkeypatch):
    """Fails if a BentoML upgrade changes what serving/service.py's speed rests on: no
    spans for excluded routes, no JSON schema built per request, a returned Response
    passed through, and the request model in the OpenAPI spec."""
    from opentelemetry.sdk.trace import Tracer
    from pydantic import TypeAdapter

    calls = {"spans": 0, "schemas": 0}
    start_span, json_schema = Tracer.start_span, TypeAdapter.json_schema

    def counted_span(self, *args, **kwargs):
        calls["spans"] += 1
        return start_span(self, *args, **kwargs)

    def counted_schema(self, *args, **kwargs):
        calls["schemas"] += 1
        return json_schema(self, *args, **kwargs)

    monkeypatch.setattr(Tracer, "start_span", counted_span)
    monkeypatch.setattr(TypeAdapter, "json_schema", counted_schema)
    body = {"customer_ids": [served["features"]["customer_id"].iloc[0]], "reasons": False}
    for path in ("/score", "/recommend", "/next-best-action"):
        response = client.post(path, json=body, headers=HEADERS)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json()["results"][0]["customer_id"] == body["customer_ids"][0]
    assert calls == {"spans": 0, "schemas": 0}
    spec = client.get("/docs.json", headers=HEADERS).json()
    request_body = spec["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]
    assert {"customer_ids", "customer", "as_of", "reasons"} <= set(
        request_body["schema"]["properties"]
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"customer_ids": "C1"}, "customer_ids"),
        ({"customer_ids": [1.5]}, "customer_ids.0"),
        ({"customer_ids": ["C1"] * 1001}, "customer_ids"),
        ({"customer_ids": ["C1"], "colour": "red"}, "colour"),
        ({"customer": {"customers": [{"customer_id": "C1", "income": float("nan")}]}}, "customer"),
    ],
)
def test_bad_requests_are_422_naming_the_field(client, body, field):
    response = client.post(
        "/score", content=json.dumps(body), headers=HEADERS | {"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"].startswith(field)


def test_malformed_json_and_oversized_bodies_are_4xx(client):
    broken = client.post(
        "/score",
        content=b'{"customer_ids": [',
        headers=HEADERS | {"content-type": "application/json"},
    )
    assert 400 <= broken.status_code < 500
    huge = client.post(
        "/score", content=b'{"customer_ids": ["' + b"x" * 2_100_000 + b'"]}', headers=HEADERS
    )
    assert huge.status_code == 413


def test_a_bad_raw_record_names_table_and_column(client, served):
    from tests.serving.test_api import records_of

    customer_id = served["features"]["customer_id"].iloc[2]
    records = records_of(served["data"], customer_id)
    records["customers"][0]["birth_date"] = "not a date"
    response = client.post(
        "/next-best-action", json={"customer": records, "as_of": "2025-01-01"}, headers=HEADERS
    )
    assert response.status_code == 422
    assert "customers" in response.json()["error"] and "birth_date" in response.json()["error"]


def test_admin_reload_answers_with_the_versions_in_use(client):
    response = client.post("/admin/reload", json={}, headers=HEADERS)
    assert response.status_code == 200
    assert response.json()["model_versions"] == {"retain-churn": "1", "retain-xsell": "1"}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "customer_ids",
                    "customer",
                    "as_of",
                    "reasons",
                    "customers",
                    "transactions",
                    "holdings",
                    "customer_id",
                    "amount",
                    "ts",
                    "x",
                ]
            )
            | st.text(max_size=10),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["/score", "/recommend", "/next-best-action"]),
    body=json_values | st.binary(max_size=200).map(lambda raw: {"__raw__": raw}),
)
def test_fuzz_no_request_gets_a_5xx(client, path, body):
    if isinstance(body, dict) and "__raw__" in body:
        content = body["__raw__"]
    else:
        content = json.dumps(body, allow_nan=True).encode()
    response = client.post(
        path, content=content, headers=HEADERS | {"content-type": "application/json"}
    )
    assert response.status_code < 500, (content[:300], response.text[:300])


def test_retain_serve_answers_over_http_on_loopback(served, tmp_path):
    """The real server process, as `retain --config FILE serve` starts it, on 127.0.0.1:
    the workers read the same file (a bank's registry, stores and rules are in force)."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    config = served["config"]
    open_store(config.feature_store_url).publish(served["features"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = tmp_path / "bank.toml"
    settings.write_text(
        f'output_dir = "{config.output_dir}"\n\n'
        f'[training]\ntracking_uri = "{config.training.tracking_uri}"\n\n'
        "[serving]\ntop_k_products = 1\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    retain = Path(sys.executable).parent / "retain"
    server = subprocess.Popen(
        [str(retain), "--config", str(settings), "serve", "--port", str(port)],
        env=env | {"RETAIN_API_KEYS": KEY},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read().decode()[-2000:]
            time.sleep(0.5)
        ids = list(served["features"]["customer_id"].iloc[:40])
        answer = httpx.post(
            f"{base}/next-best-action", json={"customer_ids": ids}, headers=HEADERS, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert [r["customer_id"] for r in answer.json()["results"]] == ids
        offers = httpx.post(
            f"{base}/recommend", json={"customer_ids": ids}, headers=HEADERS, timeout=30
        ).json()["results"]
        # The defaults offer up to 3 products; the file given with --config says 1.
        assert max(len(r["products"]) for r in offers) == 1, offers[:3]
        assert httpx.post(f"{base}/score", json={"customer_ids": ids}).status_code == 401
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
