"""The API's engine: ids from the online store, raw records, errors, audit, reload."""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.definitions import held_column
from serving.api import DecisionRequest, Engine, RequestError, caller_id
from serving.decision import decide
from serving.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.integration]
AS_OF = date(2025, 1, 1)


@pytest.fixture(scope="module")
def engine(served):
    config = served["config"]
    open_store(config.feature_store_url).publish(served["features"])
    return Engine(config, served["champions"])


def records_of(data_dir, customer_id: str) -> dict:
    """One customer's rows of every contract table, as JSON-ready records."""
    out = {}
    for table in (
        "customers",
        "holdings",
        "transactions",
        "interactions",
        "balances",
        "customer_attributes",
    ):
        frame = pd.read_parquet(data_dir / f"{table}.parquet")
        frame = frame[frame["customer_id"] == customer_id]
        out[table] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return out


def test_ids_are_answered_from_the_store_with_per_id_errors(engine, served):
    ids = list(served["features"]["customer_id"].iloc[:3])
    request = DecisionRequest(customer_ids=[*ids, "NOPE-1"])
    answer = engine.handle("score", request, caller_id("k1"))
    assert answer["model_versions"] == {"retain-churn": "1", "retain-xsell": "1"}
    assert [r["customer_id"] for r in answer["results"]] == ids
    assert answer["errors"] == [
        {"customer_id": "NOPE-1", "error": "unknown customer id (not in the online store)"}
    ]
    for result in answer["results"]:
        assert 0 <= result["churn_probability"] <= 1
        assert set(result) == {
            "customer_id",
            "as_of",
            "tier",
            "churn_probability",
            "risk_band",
            "reasons",
        }


def test_recommend_never_offers_a_held_product(engine, served):
    features = served["features"].head(40)
    answer = engine.handle(
        "recommend", DecisionRequest(customer_ids=list(features["customer_id"])), "k"
    )
    by_id = features.set_index("customer_id")
    offered = 0
    for result in answer["results"]:
        for product in result["products"]:
            offered += 1
            assert by_id.loc[result["customer_id"], held_column(product["product_id"])] == 0
    assert offered > 0


def test_raw_records_give_the_batch_decision(engine, served):
    customer_id = served["features"]["customer_id"].iloc[7]
    request = DecisionRequest(
        customer=records_of(served["data"], customer_id), as_of=AS_OF, reasons=False
    )
    answer = engine.handle("next_best_action", request, "k")
    assert answer["errors"] == []
    (result,) = answer["results"]
    batch = served["features"][served["features"]["customer_id"] == customer_id]
    expected = decide(batch, served["champions"], served["config"].serving, pd.Timestamp(AS_OF))
    assert math.isclose(
        result["churn_probability"], round(float(expected.frame["churn_probability"].iat[0]), 4)
    )
    assert result["next_best_action"]["type"] == expected.frame["action"].iat[0]


def test_raw_records_see_the_bank_rates_and_attribute_history_batch_sees(engine, served):
    """Market rates are the bank's, read from its extract; attribute versions come with the
    customer. Without either, online features would differ from the batch ones."""
    batch = served["features"]
    changed = batch[batch["days_since_attribute_change"].notna()]
    customer_id = changed["customer_id"].iloc[0]
    request = DecisionRequest(customer=records_of(served["data"], customer_id), as_of=AS_OF)
    online, errors = engine._features(request, served["champions"])
    assert errors == []
    expected = batch[batch["customer_id"] == customer_id].iloc[0]
    for name in ("market_savings_rate", "savings_rate_gap", "days_since_attribute_change"):
        assert not pd.isna(expected[name]), name
        assert math.isclose(float(online[name].iat[0]), float(expected[name])), name


def test_a_bad_record_is_a_422_naming_table_and_column(engine, served):
    customer_id = served["features"]["customer_id"].iloc[3]
    records = records_of(served["data"], customer_id)
    records["transactions"][0]["amount"] = "lots"
    with pytest.raises(RequestError) as caught:
        engine.handle("score", DecisionRequest(customer=records, as_of=AS_OF), "k")
    assert caught.value.status == 422
    assert "transactions" in caught.value.message and "amount" in caught.value.message


def test_an_unreadable_market_rates_file_is_the_service_s_fault_not_the_caller_s(served, tmp_path):
    """The rates come from the bank's extract, not the request: a 503 naming the table,
    never a 422 that tells the caller to fix what it sent."""
    (tmp_path / "market_rates.parquet").write_bytes(b"not a parquet file")
    config = served["config"].model_copy(update={"data_dir": tmp_path})
    broken = Engine(config, served["champions"])
    customer_id = served["features"]["customer_id"].iloc[3]
    request = DecisionRequest(customer=records_of(served["data"], customer_id), as_of=AS_OF)
    with pytest.raises(RequestError) as caught:
        broken.handle("score", request, "k")
    assert caught.value.status == 503 and caught.value.field is None
    assert "market_rates" in caught.value.message
    assert str(tmp_path) not in caught.value.message  # no server path to the caller


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"customer_ids": []},
        {"customer_ids": ["C1"], "customer": {"customers": [{"customer_id": "C1"}]}},
        {"customer_ids": ["C1"] * 1001},
        {"customer_ids": "C1"},
        {"customer_ids": ["C1"], "extra": 1},
        {"customer": {"customers": [{"customer_id": "C1", "x": float("nan")}]}},
        {"customer": {"customers": []}},
    ],
)
def test_malformed_requests_are_refused_before_any_work(body):
    with pytest.raises(ValidationError):
        DecisionRequest.model_validate(body)


def test_every_decision_is_audited_without_personal_data(engine, served):
    ids = list(served["features"]["customer_id"].iloc[10:13])
    engine.handle("next_best_action", DecisionRequest(customer_ids=ids), caller_id("secret"))
    lines = engine.audit.path.read_text().splitlines()
    logged = [json.loads(line) for line in lines[-3:]]
    assert [entry["customer_id"] for entry in logged] == ids
    for entry in logged:
        assert entry["caller"] == caller_id("secret") and "secret" not in json.dumps(entry)
        assert entry["model_versions"] == {"retain-churn": "1", "retain-xsell": "1"}
        assert set(entry) == {
            "at",
            "endpoint",
            "caller",
            "customer_id",
            "model_versions",
            "churn_probability",
            "action",
            "product_id",
            "expected_value",
        }


def test_reload_swaps_in_a_new_champion(engine, served):
    from mlflow import MlflowClient

    from training.churn import train_churn

    config = served["config"]
    result = train_churn(served["bank"], served["data"], config)
    MlflowClient().set_registered_model_alias("retain-churn", "champion", result.version)
    try:
        versions = engine.reload()
        assert versions["retain-churn"] == result.version != "1"
        ids = list(served["features"]["customer_id"].iloc[:2])
        answer = engine.handle("score", DecisionRequest(customer_ids=ids), "k")
        assert answer["model_versions"]["retain-churn"] == result.version
        assert np.isfinite([r["churn_probability"] for r in answer["results"]]).all()
    finally:
        MlflowClient().set_registered_model_alias("retain-churn", "champion", "1")
        engine.reload()
