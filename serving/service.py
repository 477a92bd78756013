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
"""

from __future__ import annotations

import gc
import hmac
import json
import os
import threading
import time
from typing import Any

import bentoml
from pydantic import ValidationError
from starlette.responses import JSONResponse

from retain.config import load_config
from retain.errors import RetainError
from serving.api import DecisionRequest, Engine, RequestError, caller_id

API_KEYS_ENV = "RETAIN_API_KEYS"
MAX_BODY_BYTES = 2_000_000  # one customer's year of records fits in well under 1 MB
OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/metrics"})


def configured_keys() -> tuple[str, ...]:
    return tuple(key.strip() for key in os.environ.get(API_KEYS_ENV, "").split(",") if key.strip())


class Guard:
    """ASGI middleware: API key on every route but health and metrics (compared in
    constant time), and a cap on the request body (413) counted as it streams in."""

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
        problem = _json_problem(body)
        if problem:
            status, text = problem
            await _reply(scope, receive, send, status, text, "body")
            return
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _json_problem(body: bytes) -> tuple[int, str] | None:
    """Why a body is not a JSON object, or None when it is one."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        return 400, f"body: not valid JSON ({exc})"[:300]
    except RecursionError:
        return 400, "body: JSON nested too deeply"
    if not isinstance(value, dict):
        return 422, f"body: expected a JSON object, got {type(value).__name__}"
    return None


async def _reply(scope, receive, send, status: int, message: str, field: str) -> None:
    await JSONResponse({"error": message, "field": field}, status_code=status)(scope, receive, send)


@bentoml.service(
    name="retain",
    # Decisions are CPU work in LightGBM, pandas and DuckDB: a small thread pool lets one
    # request's I/O overlap another's compute without oversubscribing two cores.
    threads=2,
    traffic={"timeout": 30},
    logging={"access": {"enabled": False}},  # access lines are noise; the audit log traces
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
        # Models, catalogue and compiled queries live as long as the worker: move them out
        # of the collector's sight, so a collection does not walk them mid-request
        # (bench/serving.py: /score p99 at c=1 went from 178 ms to 12 ms).
        gc.collect()
        gc.freeze()
        self._watch = threading.Thread(target=self._watch_registry, daemon=True)
        self._watch.start()

    def __is_ready__(self) -> bool:
        return getattr(self, "engine", None) is not None

    @bentoml.api(route="/score")
    def score(self, body: dict[str, Any], /, ctx: bentoml.Context) -> dict:
        """Churn probability, risk band, tier and the top reasons."""
        return self._answer("score", body, ctx)

    @bentoml.api(route="/recommend")
    def recommend(self, body: dict[str, Any], /, ctx: bentoml.Context) -> dict:
        """The top eligible products with propensity, expected value and reason."""
        return self._answer("recommend", body, ctx)

    @bentoml.api(route="/next-best-action")
    def next_best_action(self, body: dict[str, Any], /, ctx: bentoml.Context) -> dict:
        """Everything above and the one action to take: type, priority, channel, due time."""
        return self._answer("next_best_action", body, ctx)

    @bentoml.api(route="/admin/reload")
    def reload(self) -> dict:
        """Load the registry's current champions and swap them in without a restart."""
        return {"model_versions": self.engine.reload()}

    def _answer(self, endpoint: str, body: dict[str, Any], ctx: bentoml.Context):
        try:
            request = DecisionRequest.model_validate(body)
        except ValidationError as exc:
            ctx.response.status_code = 422
            return _invalid(exc)
        caller = ctx.request.scope.get("state", {}).get("caller", "unknown")
        try:
            return self.engine.handle(endpoint, request, caller)
        except RequestError as exc:
            ctx.response.status_code = exc.status
            return {"error": exc.message, "field": "customer"}

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
