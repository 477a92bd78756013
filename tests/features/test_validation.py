"""Loading an extract: typing, fatal errors, quarantine with reasons, completeness."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest
from banks import EXTRACTED_AT, tiny_bank_frames, tiny_bank_with_history, write_bank

from common.config import DataConfig, FeaturesConfig
from common.errors import DataError
from features import engine
from features.report import data_quality_frame
from features.validation import attribute_source, load_bank

LENIENT = DataConfig(max_quarantine_share=0.9)


def load(folder, config=LENIENT, quarantine=None):
    return load_bank(engine.connect(FeaturesConfig()), folder, config, quarantine)


def test_clean_extract_loads_typed_with_nothing_quarantined(tiny_bank, tmp_path):
    bank = load(tiny_bank, quarantine=tmp_path / "q")
    assert {r.table: r.rows_quarantined for r in bank.reports} == dict.fromkeys(
        ["customers", "products", "holdings", "transactions", "interactions", "balances"], 0
    )
    assert bank.extracted_at == EXTRACTED_AT
    schema = bank.tables["transactions"].schema()
    assert str(schema["ts"]).startswith("timestamp") and str(schema["amount"]) == "float64"
    assert not (tmp_path / "q").exists()


def test_csv_extract_reads_like_parquet(tmp_path):
    frames = tiny_bank_frames()
    parquet = load(write_bank(frames, tmp_path / "pq"))
    csv = load(write_bank(frames, tmp_path / "csv", fmt="csv"))
    sort_by = {
        "customers": [],
        "holdings": ["product_id"],
        "transactions": ["ts", "amount"],
        "interactions": ["ts"],
    }
    for name in sort_by:
        left, right = (
            bank.tables[name]
            .to_pandas()
            .sort_values(["customer_id", *sort_by[name]])
            .reset_index(drop=True)
            for bank in (parquet, csv)
        )
        pd.testing.assert_frame_equal(left, right, check_dtype=False)


def test_missing_required_table_names_it(tmp_path):
    frames = tiny_bank_frames()
    del frames["transactions"]
    with pytest.raises(DataError, match="table transactions: no transactions.parquet"):
        load(write_bank(frames, tmp_path / "bank"))


def test_optional_table_may_be_absent(tmp_path):
    frames = tiny_bank_frames()
    del frames["balances"]
    assert "balances" not in load(write_bank(frames, tmp_path / "bank")).tables


def test_missing_required_column_names_table_and_column(tmp_path):
    frames = tiny_bank_frames()
    frames["holdings"] = frames["holdings"].drop(columns=["opened_at"])
    with pytest.raises(DataError, match=r"table holdings: required column\(s\) opened_at"):
        load(write_bank(frames, tmp_path / "bank"))


def test_unreadable_column_is_fatal_with_an_example(tmp_path):
    frames = tiny_bank_frames()
    frames["transactions"]["ts"] = frames["transactions"]["ts"].dt.strftime("%d/%m/%Y %H:%M")
    with pytest.raises(
        DataError,
        match=r"column ts: none of 69 values reads as timestamp, "
        r"e.g. '\d\d/\d\d/20\d\d",
    ):
        load(write_bank(frames, tmp_path / "bank", fmt="csv"))


def test_bad_rows_are_quarantined_with_their_reason(tmp_path):
    frames = tiny_bank_frames()
    tx = frames["transactions"]
    bad_tx = tx.iloc[:6].copy().assign(customer_id="C2")
    bad_tx["amount"] = [math.inf, -5.0, 10.0, 10.0, 10.0, 10.0]
    bad_tx.loc[bad_tx.index[2], "customer_id"] = "C999"
    bad_tx.loc[bad_tx.index[3], "ts"] = pd.Timestamp("2025-03-01")
    bad_tx.loc[bad_tx.index[4], "channel"] = "carrier_pigeon"
    bad_tx.loc[bad_tx.index[5], "direction"] = None  # optional column: may be missing
    frames["transactions"] = pd.concat([tx, bad_tx], ignore_index=True)

    bank = load(write_bank(frames, tmp_path / "bank"), quarantine=tmp_path / "q")
    report = {r.table: r for r in bank.reports}["transactions"]

    channel_reason = "channel: not one of branch, atm, online, mobile, pos, system"
    assert report.reasons == {
        "amount: not finite": 1,
        "amount: below 0": 1,
        "customer_id: unknown in customers": 1,
        f"ts: after the extraction time {EXTRACTED_AT.isoformat()}": 1,
        channel_reason: 1,
    }
    assert report.examples[channel_reason] == "carrier_pigeon"
    assert report.examples["customer_id: unknown in customers"] == "C999"
    quarantined = pd.read_parquet(tmp_path / "q" / "transactions.parquet")
    assert len(quarantined) == 5
    assert set(quarantined["_reason"]) == set(report.reasons)
    assert "carrier_pigeon" in set(quarantined["channel"])
    assert bank.tables["transactions"].count().execute() == len(tx) + 1


def test_quarantined_customers_take_their_records_with_them(tmp_path):
    frames = tiny_bank_frames()
    customers = frames["customers"]
    duplicate = customers.iloc[[3]].assign(region="West")
    frames["customers"] = pd.concat([customers, duplicate], ignore_index=True)
    frames["customers"].loc[0, "risk_appetite"] = 7

    bank = load(write_bank(frames, tmp_path / "bank"))
    reports = {r.table: r for r in bank.reports}

    # Both copies of C4 go (which one is right is unknowable), and C1 for its risk appetite.
    assert reports["customers"].reasons == {
        "risk_appetite: above 5": 1,
        "customer_id: duplicate key": 2,
    }
    assert reports["holdings"].reasons == {"customer_id: unknown in customers": 4}
    remaining = set(bank.tables["transactions"].to_pandas()["customer_id"])
    assert remaining == {"C2"}


def test_too_many_bad_rows_stop_the_run(tmp_path):
    frames = tiny_bank_frames()
    frames["transactions"]["amount"] = -1.0
    with pytest.raises(
        DataError,
        match=r"table transactions: 69 of 69 rows \(100.0%\) break "
        r"the contract.*amount: below 0 \(69 rows, e.g. '-1.0'\)",
    ):
        load(write_bank(frames, tmp_path / "bank"), config=DataConfig())


def test_time_order_rules(tmp_path):
    frames = tiny_bank_frames()
    frames["interactions"].loc[1, "resolved_at"] = pd.Timestamp("2023-10-01")
    frames["customers"].loc[1, "joined_at"] = date(1980, 1, 1)  # before birth
    bank = load(write_bank(frames, tmp_path / "bank"))
    reports = {r.table: r for r in bank.reports}
    assert reports["interactions"].reasons["resolved_at: before ts"] == 1
    assert reports["customers"].reasons == {"joined_at: before birth_date": 1}


def test_completeness_report_flags_sparse_columns_only_when_meaningful(tmp_path):
    frames = tiny_bank_frames()
    frames["customers"]["region"] = [None, None, "North", "East"]
    bank = load(write_bank(frames, tmp_path / "bank"))
    quality = data_quality_frame(bank, threshold=0.98).set_index(["table", "column"])
    assert quality.loc[("customers", "region"), "completeness"] == 0.5
    assert quality.loc[("customers", "region"), "status"] == "below threshold"
    # closed_at is null for open holdings by design: reported, not flagged.
    assert quality.loc[("holdings", "closed_at"), "status"] == "ok"
    assert quality.loc[("transactions", "account_id"), "completeness"] == 1.0


def test_extraction_time_from_config_when_no_manifest(tmp_path):
    folder = write_bank(tiny_bank_frames(), tmp_path / "bank")
    (folder / "manifest.json").unlink()
    bank = load(folder, config=DataConfig(extracted_at=EXTRACTED_AT, max_quarantine_share=0.5))
    assert bank.extracted_at == EXTRACTED_AT


def test_bad_manifest_is_a_clear_error(tmp_path):
    folder = write_bank(tiny_bank_frames(), tmp_path / "bank")
    (folder / "manifest.json").write_text('{"extracted_at": "last tuesday"}')
    with pytest.raises(DataError, match="manifest.json: expected JSON with an ISO"):
        load(folder)


def test_one_unreadable_value_in_a_csv_is_quarantined_not_fatal(tmp_path):
    frames = tiny_bank_frames()
    folder = write_bank(frames, tmp_path / "bank", fmt="csv")
    text = (folder / "transactions.csv").read_text().splitlines()
    text[5] = text[5].replace("2023-", "31/12/2023 ", 1)
    text[6] = text[6].replace(",80.0,", ",eighty,", 1)
    (folder / "transactions.csv").write_text("\n".join(text) + "\n")
    bank = load(folder, quarantine=tmp_path / "q")
    report = {r.table: r for r in bank.reports}["transactions"]
    assert report.reasons == {"ts: not a valid timestamp": 1, "amount: not a valid float64": 1}
    assert report.examples["amount: not a valid float64"] == "eighty"
    assert bank.tables["transactions"].count().execute() == 67


@pytest.mark.parametrize("column", ["opened_at", "closed_at"])
def test_an_unreadable_time_in_a_csv_key_column_is_quarantined(tmp_path, column):
    """`opened_at` is part of the holdings key: the duplicate-key count reads only the key
    columns, which DuckDB 2.0 would read with a plain cast and fail on."""
    folder = write_bank(tiny_bank_frames(), tmp_path / "bank", fmt="csv")
    path = folder / "holdings.csv"
    lines = path.read_text().splitlines()
    header, cells = lines[0].split(","), lines[2].split(",")
    cells[header.index(column)] = "garbage"
    lines[2] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    bank = load(folder, quarantine=tmp_path / "q")
    report = {r.table: r for r in bank.reports}["holdings"]
    assert report.reasons == {f"{column}: not a valid timestamp": 1}
    assert report.examples[f"{column}: not a valid timestamp"] == "garbage"


def test_fractional_whole_numbers_are_quarantined_not_rounded(tmp_path):
    frames = tiny_bank_frames()
    frames["customers"]["risk_appetite"] = [3.0, 2.5, 5.0, 1.0]  # a float column in Parquet
    bank = load(write_bank(frames, tmp_path / "bank"))
    report = {r.table: r for r in bank.reports}["customers"]
    assert report.reasons == {"risk_appetite: not a whole number": 1}
    assert report.examples["risk_appetite: not a whole number"] == "2.5"


def test_a_scheduled_close_after_the_extract_reads_as_open(tmp_path):
    frames = tiny_bank_frames()
    frames["holdings"].loc[1, "closed_at"] = pd.Timestamp("2026-03-31")  # card expiry planned
    bank = load(write_bank(frames, tmp_path / "bank"))
    assert {r.table: r.rows_quarantined for r in bank.reports}["holdings"] == 0
    holdings = bank.tables["holdings"].to_pandas().set_index(["customer_id", "product_id"])
    assert pd.isna(holdings.loc[("C1", "P02"), "closed_at"])


def test_manifest_offsets_are_converted_to_utc(tmp_path):
    folder = write_bank(tiny_bank_frames(), tmp_path / "bank")
    (folder / "manifest.json").write_text('{"extracted_at": "2025-01-01T01:30:00+02:00"}')
    assert load(folder).extracted_at == pd.Timestamp("2024-12-31 23:30:00")


def test_an_empty_interactions_table_is_allowed_but_empty_customers_is_not(tmp_path):
    frames = tiny_bank_frames()
    frames["interactions"] = frames["interactions"].iloc[:0]
    assert load(write_bank(frames, tmp_path / "a")).tables["interactions"].count().execute() == 0
    frames["customers"] = frames["customers"].iloc[:0]
    with pytest.raises(DataError, match="table customers .* has no rows"):
        load(write_bank(frames, tmp_path / "b"))


def test_the_point_in_time_tables_load_with_nothing_quarantined(tmp_path):
    # C1's mortgage is fixed until 2029, after the extraction: agreed at opening, so kept.
    bank = load(write_bank(tiny_bank_with_history(), tmp_path / "bank"), LENIENT)
    assert {r.table: r.rows_quarantined for r in bank.reports} == dict.fromkeys(
        [
            "customers",
            "products",
            "holdings",
            "transactions",
            "interactions",
            "balances",
            "customer_attributes",
            "market_rates",
        ],
        0,
    )
    holdings = bank.tables["holdings"].to_pandas().set_index(["customer_id", "product_id"])
    assert holdings.loc[("C1", "P03"), "fixed_until"] == pd.Timestamp("2029-03-10")
    assert attribute_source(tmp_path / "bank") == "point_in_time"
    assert attribute_source(write_bank(tiny_bank_frames(), tmp_path / "b")) == "as_of_extraction"


def test_bad_attribute_versions_are_quarantined_with_their_reason(tmp_path):
    frames = tiny_bank_with_history()
    versions = frames["customer_attributes"]
    backwards = versions.iloc[[0]].assign(
        valid_from=pd.Timestamp("2012-05-01"), valid_to=pd.Timestamp("2011-05-01")
    )
    stranger = versions.iloc[[0]].assign(customer_id="C999")
    copy = versions.iloc[[2]].assign(income_band="high")  # same (customer, valid_from) key
    unknown_band = versions.iloc[[4]].assign(
        valid_from=pd.Timestamp("2024-08-01"), income_band="rich"
    )
    frames["customer_attributes"] = pd.concat(
        [versions, backwards, stranger, copy, unknown_band], ignore_index=True
    )
    bank = load(write_bank(frames, tmp_path / "bank"), quarantine=tmp_path / "q")
    report = {r.table: r for r in bank.reports}["customer_attributes"]
    assert report.reasons == {
        "valid_to: before valid_from": 1,
        "customer_id: unknown in customers": 1,
        "customer_id, valid_from: duplicate key": 2,
        "income_band: not one of low, lower_middle, middle, upper_middle, high": 1,
    }
    assert len(pd.read_parquet(tmp_path / "q" / "customer_attributes.parquet")) == 5
    # The customers table keeps its own attributes, whatever the history says.
    assert {r.table: r.rows_quarantined for r in bank.reports}["customers"] == 0


def test_a_fixed_rate_end_after_the_extraction_is_kept_but_other_dates_are_not(tmp_path):
    frames = tiny_bank_with_history()
    frames["holdings"].loc[1, "opened_at"] = pd.Timestamp("2025-06-01")
    bank = load(write_bank(frames, tmp_path / "bank"))
    report = {r.table: r for r in bank.reports}["holdings"]
    assert report.reasons == {f"opened_at: after the extraction time {EXTRACTED_AT.isoformat()}": 1}
