"""The real-time API's logic, independent of the HTTP framework.

`Engine` answers `score`, `recommend` and `next_best_action` for customer ids (features
from the online store) or for one customer's raw records (features computed by the same
definitions as the batch), through the one decision function, and writes every decision
to the audit log. The BentoML service (`serving/service.py`) only adapts HTTP to it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from common.config import RetainConfig
from common.errors import DataError
from serving.decision import decide
from serving.models import Champions, champion_versions, load_champions
from serving.store import open_store

LOG = logging.getLogger(__name__)

MAX_IDS = 1_000
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
# A record field: text, a finite number, a boolean or null. NaN and infinity are refused.
Scalar = str | bool | int | Annotated[float, Field(allow_inf_nan=False)] | None
Record = dict[Annotated[str, StringConstraints(max_length=64)], Scalar]


class RawCustomer(BaseModel):
    """One customer's records in the data contract's tables."""

    model_config = ConfigDict(extra="forbid")

    customers: list[Record] = Field(min_length=1, max_length=1)
    holdings: list[Record] = Field(default_factory=list, max_length=500)
    transactions: list[Record] = Field(default_factory=list, max_length=20_000)
    interactions: list[Record] = Field(default_factory=list, max_length=5_000)
    balances: list[Record] = Field(default_factory=list, max_length=5_000)
    # Versions of the changeable attributes; without them the `customers` record's values
    # stand for the whole history (features.attributes).
    customer_attributes: list[Record] = Field(default_factory=list, max_length=1_000)


class DecisionRequest(BaseModel):
    """`{"customer_ids": [...]}` or `{"customer": {...raw records...}}`."""

    model_config = ConfigDict(extra="forbid")

    customer_ids: list[CustomerId] | None = Field(default=None, min_length=1, max_length=MAX_IDS)
    customer: RawCustomer | None = None
    as_of: date | None = Field(
        default=None, description="Cut-off for raw records (default: today)."
    )
    reasons: bool = Field(default=True, description="Include the reasons (costs ~ms a row).")

    @model_validator(mode="after")
    def _one_source(self) -> DecisionRequest:
        if (self.customer_ids is None) == (self.customer is None):
            raise ValueError("give either customer_ids or customer, not both and not neither")
        return self


class RequestError(Exception):
    """A request the engine cannot answer: HTTP status and a message naming the field."""

    def __init__(self, status: int, message: str, field: str | None = "customer") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field  # the request's field at fault; None when it is the service's


Endpoint = Literal["score", "recommend", "next_best_action"]


class Engine:
    """Champions, online store and per-thread feature computers; swappable champions."""

    def __init__(self, config: RetainConfig, champions: Champions | None = None) -> None:
        self.config = config
        self._champions = champions or load_champions(config)
        self._store = open_store(config.feature_store_url)
        self._local = threading.local()
        self._swap = threading.Lock()
        self.audit = AuditLog(config.output_dir / "audit" / "decisions.jsonl")

    @property
    def champions(self) -> Champions:
        return self._champions

    def reload(self) -> dict[str, str]:
        """Load the registry's current champions and swap them in; requests in flight
        finish on the models they started with (they hold their own reference)."""
        fresh = load_champions(self.config)
        with self._swap:
            self._champions = fresh
        return fresh.versions

    def reload_if_changed(self) -> bool:
        """Reload when the registry's champion aliases point elsewhere than ours."""
        if champion_versions(self.config) == self._champions.versions:
            return False
        self.reload()
        return True

    def handle(self, endpoint: Endpoint, request: DecisionRequest, caller: str) -> dict:
        champions = self._champions  # one consistent pair for the whole request
        started = time.perf_counter()
        features, errors = self._features(request, champions)
        now = datetime.now()
        results = []
        if len(features):
            decisions = decide(
                features,
                champions,
                self.config.serving,
                now,
                reasons_for="all" if request.reasons else "none",
                scope="score" if endpoint == "score" else "all",
            )
            results = [_shape(endpoint, record) for record in decisions.records()]
            self.audit.write(endpoint, caller, decisions.rows(), champions.versions)
        return {
            "request_id": uuid.uuid4().hex,
            "model_versions": champions.versions,
            "results": results,
            "errors": errors,
            "milliseconds": round((time.perf_counter() - started) * 1000, 2),
        }

    def _features(self, request: DecisionRequest, champions: Champions):
        if request.customer_ids is not None:
            rows, missing = self._store.lookup(list(request.customer_ids))
            return rows, [
                {
                    "customer_id": customer_id,
                    "error": "unknown customer id (not in the online store)",
                }
                for customer_id in missing
            ]
        as_of = request.as_of or date.today()
        records = {name: rows for name, rows in request.customer.model_dump().items() if rows}
        try:
            features = self._customer_features(champions)
        except DataError as exc:
            # The bank's own tables (market rates) are at fault, not the caller's records:
            # the detail (file, path) goes to the service's log, not to the caller.
            LOG.error("online features unavailable: %s", exc)
            raise RequestError(
                503,
                "service: the bank's market_rates table cannot be read (see the service log)",
                None,
            ) from None
        try:
            frame = features.compute(records, as_of)
        except DataError as exc:
            raise RequestError(422, f"customer: {exc}") from None
        if frame.empty:
            customer_id = str(request.customer.customers[0].get("customer_id"))
            return frame, [{"customer_id": customer_id, "error": f"not a customer as of {as_of}"}]
        return frame, []

    def _customer_features(self, champions: Champions):
        """This thread's compiled feature queries, rebuilt when the cross-sell champion (and
        with it the product catalogue) changes."""
        from features.online import CustomerFeatures, read_market_rates

        key = champions.xsell_version
        cached = getattr(self._local, "features", None)
        if cached is None or cached[0] != key:
            catalogue = champions.catalogue.reset_index()
            # The bank's published rates, as batch scoring reads them from the extract.
            rates = read_market_rates(self.config.data_dir)
            cached = (key, CustomerFeatures(catalogue, self.config.features, rates))
            self._local.features = cached
        return cached[1]


def _shape(endpoint: Endpoint, record: dict) -> dict:
    """Each endpoint answers its own question from the one decision."""
    base = {"customer_id": record["customer_id"], "as_of": record["as_of"], "tier": record["tier"]}
    if endpoint == "score":
        return base | {key: record[key] for key in ("churn_probability", "risk_band", "reasons")}
    if endpoint == "recommend":
        return base | {"products": record["products"]}
    return record


def caller_id(api_key: str) -> str:
    """Who asked, for the audit log, without writing the key itself."""
    return "key-" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


class AuditLog:
    """Every decision as one JSON line: when, who asked, customer, model versions, scores,
    action. No feature values or reasons (they are personal data); the customer id is the
    bank's own pseudonymous key, which the plans require to trace each callback back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, endpoint: str, caller: str, rows: list[dict], versions: dict) -> None:
        stamp = datetime.now().isoformat(timespec="milliseconds")
        lines = [
            json.dumps(
                {
                    "at": stamp,
                    "endpoint": endpoint,
                    "caller": caller,
                    "customer_id": row["customer_id"],
                    "model_versions": versions,
                    "churn_probability": round(float(row["churn_probability"]), 4),
                    "action": row["action"] or None,  # None: /score decides no action
                    "product_id": row["product_id"] or None,
                    "expected_value": None
                    if pd.isna(row["expected_value"])
                    else round(float(row["expected_value"]), 2),
                }
            )
            for row in rows
        ]
        with self._lock, self.path.open("a") as handle:
            handle.write("\n".join(lines) + "\n")
