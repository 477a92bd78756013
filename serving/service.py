"""The real-time API as a BentoML service: `bentoml serve serving.service:Retain`, or
`retain serve`.

Endpoints (POST, JSON): `/score`, `/recommend`, `/next-best-action`, each with
`{"customer_ids": [...]}` or `{"customer": {...raw records...}, "as_of": "YYYY-MM-DD"}`;
`/admin/reload` swaps in the registry's current champions. BentoML serves `/healthz`,
`/livez`, `/readyz` (not ready until the models are loaded), `/metrics` (Prometheus) and
`/docs.json` (OpenAPI). Every route except health and metrics needs an `X-API-Key` from
`RETAIN_API_KEYS`.

Errors are JSON objects `{"error": ..., "field": ...}` with a 4xx status: the request
model is validated here (not by BentoML, whose 400 body is a list and whose 401 drops the
message), so the message names the field.

Speed (bench/serving.py, figures in docs/benchmarks.md). Four choices, all within
BentoML's public behaviour, keep its cost per request near the bare HTTP stack's:
- `tracing.excluded_urls` for the decision routes unless `serving.trace_requests`;
- the request model is declared as a plain (non-root) model, validated once by the Guard
  middleware; BentoML validates a root model (`body: dict`) by generating its JSON schema
  on every request (~1 ms);
- the endpoints return a ready `Response`, which BentoML passes through without building
  the output's schema;
- the endpoints are `async`: an id look-up (~0.3 ms of CPU) runs on the event loop instead
  of a thread hop; raw records (~100 ms of DuckDB) and long id lists go to a worker thread.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import json
import os
import threading
import time
from typing import Any

import anyio
import bentoml
from bentoml._internal.server.http.traffic import TimeoutMiddleware
from pydantic import ValidationError
from starlette.responses import JSONResponse, Response

from common.config import load_config
from common.errors import RetainError
from serving.api import DecisionRequest, Engine, RequestError, caller_id

API_KEYS_ENV = "RETAIN_API_KEYS"
MAX_BODY_BYTES = 2_000_000  # one customer's year of records fits in well under 1 MB
OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/metrics"})
DECISION_PATHS = frozenset({"/score", "/recommend", "/next-best-action"})
INLINE_MAX_IDS = 20  # larger requests run in a worker thread, off the event loop


def configured_keys() -> tuple[str, ...]:
    return tuple(key.strip() for key in os.environ.get(API_KEYS_ENV, "").split(",") if key.strip())


class Guard:
    """ASGI middleware: API key on every route but health and metrics (compared in
    constant time), a cap on the request body (413) counted as it streams in, and the
    decision request validated into `scope["state"]["request"]` (422 naming the field)."""

    def __init__(self, app, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body
        self.keys = configured_keys()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key = headers.get(b"x-api-key", b"").decode("latin-1")
        if not key or not any(hmac.compare_digest(key, known) for known in self.keys):
            await _reply(scope, receive, send, 401, "missing or unknown X-API-Key", "X-API-Key")
            return
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await _reply(
                scope, receive, send, 413, f"request body over {self.max_body:,} bytes", "body"
            )
            return
        scope.setdefault("state", {})["caller"] = caller_id(key)
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        # Read the body here (bounded), so a broken or oversized one is a clear 4xx before
        # BentoML parses it (it answers a malformed body for a dict parameter with a 500).
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                await _reply(
                    scope, receive, send, 413, f"request body over {self.max_body:,} bytes", "body"
                )
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks).strip() or b"{}"  # no body at all reads as {}, as in BentoML
        parsed, problem = _json_object(body)
        if problem:
            status, text = problem
            await _reply(scope, receive, send, status, text, "body")
            return
        if scope["path"] in DECISION_PATHS:
            try:
                scope["state"]["request"] = DecisionRequest.model_validate(parsed)
            except ValidationError as exc:
                await _invalid(exc)(scope, receive, send)
                return
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _json_object(body: bytes) -> tuple[dict | None, tuple[int, str] | None]:
    """The body as a JSON object, or why it is not one (status, message)."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        return None, (400, f"body: not valid JSON ({exc})"[:300])
    except RecursionError:
        return None, (400, "body: JSON nested too deeply")
    if not isinstance(value, dict):
        return None, (422, f"body: expected a JSON object, got {type(value).__name__}")
    return value, None


async def _reply(scope, receive, send, status: int, message: str, field: str) -> None:
    await JSONResponse({"error": message, "field": field}, status_code=status)(scope, receive, send)


def _untraced_routes() -> list[str]:
    try:
        traced = load_config().serving.trace_requests
    except RetainError:  # the service's start reports a broken configuration
        traced = False
    return [] if traced else sorted(DECISION_PATHS)


@bentoml.service(
    name="retain",
    # The thread pool runs the sync routes (/admin/reload); decisions are async and send
    # their heavy requests to their own two-thread limiter.
    threads=2,
    traffic={"timeout": 30},
    logging={"access": {"enabled": False}},  # access lines are noise; the audit log traces
    # Supported BentoML setting: no OpenTelemetry spans for the decision routes unless
    # `serving.trace_requests` (each request made four spans nobody exported).
    tracing={"excluded_urls": _untraced_routes()},
)
class Retain:
    """Churn scores, product recommendations and the next best action, per customer."""

    def __init__(self) -> None:
        if not configured_keys():
            raise RetainError(
                f"{API_KEYS_ENV} is not set: give the API keys callers must send in "
                "X-API-Key, comma-separated"
            )
        self.config = load_config()
        self.engine = Engine(self.config)
        self._heavy: anyio.CapacityLimiter | None = None  # made on the event loop
        # Models, catalogue and compiled queries live as long as the worker: move them out
        # of the collector's sight, so a collection does not walk them mid-request
        # (bench/serving.py: /score p99 at c=1 went from 178 ms to 12 ms).
        gc.collect()
        gc.freeze()
        self._watch = threading.Thread(target=self._watch_registry, daemon=True)
        self._watch.start()

    def __is_ready__(self) -> bool:
        return getattr(self, "engine", None) is not None

    # `input_spec` documents the body in the OpenAPI spec; the Guard has validated it.
    @bentoml.api(route="/score", input_spec=DecisionRequest)
    async def score(self, ctx: bentoml.Context, **_: Any) -> dict:
        """Churn probability, risk band, tier and the top reasons."""
        return await self._answer("score", ctx)

    @bentoml.api(route="/recommend", input_spec=DecisionRequest)
    async def recommend(self, ctx: bentoml.Context, **_: Any) -> dict:
        """The top eligible products with propensity, expected value and reason."""
        return await self._answer("recommend", ctx)

    @bentoml.api(route="/next-best-action", input_spec=DecisionRequest)
    async def next_best_action(self, ctx: bentoml.Context, **_: Any) -> dict:
        """Everything above and the one action to take: type, priority, channel, due time."""
        return await self._answer("next_best_action", ctx)

    @bentoml.api(route="/admin/reload")
    def reload(self) -> dict:
        """Load the registry's current champions and swap them in without a restart."""
        return {"model_versions": self.engine.reload()}

    async def _answer(self, endpoint: str, ctx: bentoml.Context) -> Response:
        state = ctx.request.scope.get("state", {})
        request: DecisionRequest = state["request"]
        caller = state.get("caller", "unknown")
        light = request.customer_ids is not None and len(request.customer_ids) <= INLINE_MAX_IDS
        try:
            if light:
                answer = self.engine.handle(endpoint, request, caller)
            else:
                # Raw records cost ~100 ms of DuckDB each: at most two at once, on two cores.
                self._heavy = self._heavy or anyio.CapacityLimiter(2)
                answer = await anyio.to_thread.run_sync(
                    self.engine.handle, endpoint, request, caller, limiter=self._heavy
                )
        except RequestError as exc:
            ctx.response.status_code = exc.status  # BentoML sets the response's from ctx
            return JSONResponse({"error": exc.message, "field": exc.field}, exc.status)
        return Response(json.dumps(answer).encode(), media_type="application/json")

    def _watch_registry(self) -> None:
        """Every `serving.reload_check_seconds`, swap in a new champion if the registry
        moved the alias: each worker picks up a promotion on its own."""
        interval = self.config.serving.reload_check_seconds
        while interval > 0:
            time.sleep(interval)
            try:
                self.engine.reload_if_changed()
            except Exception as exc:  # keep serving the current models; say why
                print(json.dumps({"event": "reload_check_failed", "error": str(exc)[:300]}))


def _invalid(exc: ValidationError) -> JSONResponse:
    """422 naming the first bad field, e.g. `customer_ids.3` or `customer.transactions.0.amount`."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    return JSONResponse(
        {
            "error": f"{field}: {first['msg']}",
            "field": field,
            "details": [
                {"field": ".".join(str(p) for p in e["loc"]), "error": e["msg"]}
                for e in errors[:10]
            ],
        },
        status_code=422,
    )


Retain.add_asgi_middleware(Guard)


async def _timeout_with_cancelled_timer(self, scope, receive, send) -> None:
    """BentoML 1.4.39's `TimeoutMiddleware.__call__` (traffic.timeout) with one change: it
    cancels its timer when the request is done. BentoML's leaves every request's timer,
    future and context alive for the whole timeout (30 s × the request rate): full garbage
    collections walking them grew to 180 ms (bench/serving.py). BentoML offers no setting
    for this (`traffic.timeout` must be > 0); a test fails if an upgrade moves or changes
    the middleware."""
    if scope["type"] not in ("http", "websocket"):
        return await self.app(scope, receive, send)
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    timer = loop.call_later(self.timeout, self._set_timer_out, waiter)

    async def _send(message) -> None:
        if not waiter.done():
            waiter.set_result(None)
        await send(message)

    request = asyncio.ensure_future(self.app(scope, receive, _send), loop=loop)
    try:
        await waiter
    except TimeoutError:
        if request.cancel():
            message = f"Not able to process the request in {self.timeout} seconds"
            await JSONResponse({"error": message}, status_code=504)(scope, receive, send)
    else:
        await request
    finally:
        timer.cancel()


TimeoutMiddleware.__call__ = _timeout_with_cancelled_timer
