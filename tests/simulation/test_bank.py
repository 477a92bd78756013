"""The synthetic bank: deterministic, on contract, and behaving like a bank worth modelling."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from common.names import TRUTH_ADOPTION, TRUTH_ADOPTION_PREFIX, TRUTH_CHURN, TRUTH_DEPARTURES
from features.schema import ARROW_TYPES, CUSTOMERS, MANIFEST_FILE, PRODUCTS, TABLES
from simulation.bank import CATALOGUE, SynthMechanisms, SynthSummary, generate_bank

CUSTOMER_ID = CUSTOMERS.primary_key[0]
HORIZON = pd.Timedelta(days=90)
# Dates agreed in advance, which the contract keeps even when they fall after extraction.
KNOWN_AHEAD = {("holdings", "fixed_until")}


def read(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(folder / f"{table}.parquet")


def extracted_at(folder: Path) -> pd.Timestamp:
    return pd.Timestamp(json.loads((folder / MANIFEST_FILE).read_text())["extracted_at"])


def churn_times(holdings: pd.DataFrame) -> pd.Series:
    """When each churner's last holding closed, for customers with every holding closed."""
    by_customer = holdings.groupby(CUSTOMER_ID)["closed_at"]
    all_closed = by_customer.apply(lambda closed: closed.notna().all())
    return by_customer.max()[all_closed]


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> tuple[Path, SynthSummary]:
    """2,000 customers over 13 months: enough churners to measure rates."""
    folder = tmp_path_factory.mktemp("synth") / "bank"
    summary = generate_bank(folder, n_customers=2000, months=13, seed=11, start=date(2023, 1, 1))
    return folder, summary


@pytest.fixture(scope="module")
def folder(bank) -> Path:
    return bank[0]


@pytest.fixture(scope="module")
def old_countdown(tmp_path_factory) -> Path:
    """The same bank with the countdown of before issue 14, whose signs every warned leaver
    shows (the noisy countdown's are tested in test_mechanisms.py)."""
    folder = tmp_path_factory.mktemp("synth_old_countdown") / "bank"
    mechanisms = SynthMechanisms(noisy_countdown=False)
    generate_bank(folder, n_customers=2000, months=13, seed=11, mechanisms=mechanisms)
    return folder


# ---------------------------------------------------------------------------- determinism


def all_frames(folder: Path) -> dict[str, pd.DataFrame]:
    frames = {table.name: read(folder, table.name) for table in TABLES}
    for path in (TRUTH_CHURN, TRUTH_ADOPTION, TRUTH_DEPARTURES):
        frames[path.name] = pd.read_parquet(folder / path)
    return frames


def test_same_seed_gives_identical_tables_and_another_seed_does_not(tmp_path):
    args = {"n_customers": 300, "months": 6}
    first = all_frames(_generated(tmp_path / "a", seed=5, **args))
    again = all_frames(_generated(tmp_path / "b", seed=5, **args))
    other = all_frames(_generated(tmp_path / "c", seed=6, **args))
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, again[name], obj=name)
    assert (tmp_path / "a" / MANIFEST_FILE).read_text() == (
        tmp_path / "b" / MANIFEST_FILE
    ).read_text()
    for name in ("customers", "transactions", "interactions"):
        assert not first[name].equals(other[name]), f"{name} identical under another seed"


def _generated(folder: Path, **kwargs) -> Path:
    generate_bank(folder, **kwargs)
    return folder


# ---------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_table_has_exactly_the_declared_columns_and_dtypes(folder, table):
    schema = pq.read_schema(folder / f"{table.name}.parquet")
    assert tuple(schema.names) == table.column_names
    for col in table.columns:
        assert schema.field(col.name).type == ARROW_TYPES[col.dtype], (
            f"{table.name}.{col.name}: {schema.field(col.name).type}, contract says {col.dtype}"
        )


@pytest.mark.parametrize("table", [t for t in TABLES if t.primary_key], ids=lambda t: t.name)
def test_primary_keys_are_unique(folder, table):
    frame = read(folder, table.name)
    assert len(frame) > 0
    assert not frame.duplicated(list(table.primary_key)).any()


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_values_respect_the_contract(folder, table):
    frame = read(folder, table.name)
    limit = extracted_at(folder)
    for col in table.columns:
        values = frame[col.name]
        if not col.nullable:
            assert values.notna().all(), f"{table.name}.{col.name} has nulls"
        present = values.dropna()
        if col.allowed is not None:
            unknown = set(present) - set(col.allowed)
            assert not unknown, f"{table.name}.{col.name}: {unknown} not allowed"
        if col.dtype in ("int64", "float64"):
            assert np.isfinite(present.astype(float)).all(), f"{table.name}.{col.name}"
            if col.min_value is not None:
                assert (present >= col.min_value).all(), f"{table.name}.{col.name} too small"
            if col.max_value is not None:
                assert (present <= col.max_value).all(), f"{table.name}.{col.name} too large"
        if col.dtype == "timestamp":
            assert (present <= limit).all(), f"{table.name}.{col.name} after extracted_at"
        if col.dtype == "date" and (table.name, col.name) not in KNOWN_AHEAD:
            assert (present <= limit.date()).all(), f"{table.name}.{col.name} after extraction"
    for earlier, later in table.time_order:
        both = frame[[earlier, later]].dropna()
        assert (both[later] >= both[earlier]).all(), f"{table.name}: {later} before {earlier}"


@pytest.mark.parametrize(
    ("table", "column"),
    [(t, c) for t in TABLES for c in t.columns if c.references],
    ids=lambda item: getattr(item, "name", ""),
)
def test_every_foreign_key_is_known(folder, table, column):
    parent_table, parent_column = column.references.split(".")
    known = set(read(folder, parent_table)[parent_column])
    assert set(read(folder, table.name)[column.name]) <= known


@pytest.fixture(scope="module")
def load_reports(folder, tmp_path_factory) -> dict:
    from common.config import DataConfig, FeaturesConfig
    from features import engine
    from features.validation import load_bank

    quarantine = tmp_path_factory.mktemp("quarantine")
    bank = load_bank(engine.connect(FeaturesConfig()), folder, DataConfig(), quarantine)
    return {report.table: report for report in bank.reports}


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_the_extract_loads_without_a_quarantined_row(load_reports, table):
    report = load_reports[table.name]
    assert report.rows_quarantined == 0, report.reasons


def test_transaction_amounts_are_positive_cents(folder):
    amount = read(folder, "transactions")["amount"]
    assert np.isfinite(amount).all() and (amount > 0).all()
    assert np.allclose(amount, amount.round(2))


def test_manifest_and_products(folder, bank):
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert manifest == {
        "extracted_at": "2024-01-31T23:59:59",
        "source": "retain synthetic bank",
        "seed": 11,
        "n_customers": 2000,
        "months": 13,
    }
    assert bank[1].extracted_at == datetime(2024, 1, 31, 23, 59, 59)
    products = read(folder, PRODUCTS.name)
    assert list(products[PRODUCTS.primary_key[0]]) == [f"P{i:02d}" for i in range(1, 13)]
    assert len(read(folder, CUSTOMERS.name)) == 2000
    assert bank[1].row_counts == {
        table.name: pq.ParquetFile(folder / f"{table.name}.parquet").metadata.num_rows
        for table in TABLES
    }


def test_start_must_be_a_month_start(tmp_path):
    with pytest.raises(ValueError, match="first day of a month"):
        generate_bank(tmp_path, n_customers=10, months=2, start=date(2023, 1, 15))


# --------------------------------------------------------------------------- relationships


def test_every_customer_opens_a_current_account_when_joining(folder):
    customers = read(folder, "customers").set_index(CUSTOMER_ID)
    holdings = read(folder, "holdings")
    current = holdings[holdings["product_id"] == CATALOGUE[0].product_id]
    assert current[CUSTOMER_ID].is_unique and len(current) == len(customers)
    opened = current.set_index(CUSTOMER_ID)["opened_at"].dt.date
    assert (opened == customers.loc[opened.index, "joined_at"]).all()


def test_a_product_is_held_at_most_once_at_a_time(folder):
    holdings = read(folder, "holdings").sort_values([CUSTOMER_ID, "product_id", "opened_at"])
    following = holdings.groupby([CUSTOMER_ID, "product_id"])["opened_at"].shift(-1)
    reopened = following.notna()
    closed = holdings.loc[reopened, "closed_at"]
    assert closed.notna().all()
    assert (closed <= following[reopened]).all()


@pytest.mark.parametrize("table", ["transactions", "interactions"])
def test_no_activity_before_joining_or_after_leaving(folder, table):
    events = read(folder, table)
    joined = read(folder, "customers").set_index(CUSTOMER_ID)["joined_at"]
    first = events.groupby(CUSTOMER_ID)["ts"].min()
    assert (first.dt.date >= joined.loc[first.index]).all(), f"{table} before joined_at"
    left = churn_times(read(folder, "holdings"))
    last = events.groupby(CUSTOMER_ID)["ts"].max().reindex(left.index).dropna()
    assert (last <= left.loc[last.index]).all(), f"{table} after all holdings closed"


# ------------------------------------------------------------------------------- realism


def test_annual_churn_rate_is_realistic(folder, bank):
    assert 0.05 <= bank[1].annual_churn_rate <= 0.20
    # The same rate measured from the tables: churners per customer-year at risk.
    truth = pd.read_parquet(folder / TRUTH_CHURN)
    left = churn_times(read(folder, "holdings"))
    churned_after_month_one = (left >= pd.Timestamp(truth["month_start"].min())).sum()
    customer_years = len(truth) / 12
    assert 0.05 <= churned_after_month_one / customer_years <= 0.20


def test_salary_stops_before_most_warned_churners_leave(old_countdown):
    folder = old_countdown
    truth = pd.read_parquet(folder / TRUTH_CHURN)
    left = churn_times(read(folder, "holdings"))
    warned = left.index.intersection(truth.loc[truth["leaving"], CUSTOMER_ID].unique())
    tx = read(folder, "transactions")
    salary = tx[tx["counterparty_type"].isin(["salary", "pension"])]
    last_salary = salary.groupby(CUSTOMER_ID)["ts"].max().reindex(warned).dropna()
    assert len(last_salary) >= 20, "too few salaried warned churners to judge"
    gap = left.loc[last_salary.index] - last_salary
    # At least one monthly salary missing before the last holding closed.
    assert (gap > pd.Timedelta(days=35)).mean() > 0.5


def test_warned_churners_move_money_to_another_bank_first(old_countdown):
    folder = old_countdown
    truth = pd.read_parquet(folder / TRUTH_CHURN)
    left = churn_times(read(folder, "holdings"))
    warned = set(left.index) & set(truth.loc[truth["leaving"], CUSTOMER_ID])
    tx = read(folder, "transactions")
    out = tx[
        (tx["counterparty_type"] == "transfer_out_other_bank")
        & (tx["ts"] < tx[CUSTOMER_ID].map(left) - pd.Timedelta(days=7))
    ]
    warned_share = len(warned & set(out[CUSTOMER_ID])) / len(warned)
    stayers = set(read(folder, "customers")[CUSTOMER_ID]) - set(left.index)
    stayer_share = len(stayers & set(out[CUSTOMER_ID])) / len(stayers)
    assert warned_share > 0.8 and warned_share > 2 * stayer_share


def test_truth_churn_probability_is_higher_for_those_who_churn(folder):
    truth = pd.read_parquet(folder / TRUTH_CHURN)
    month_start = pd.to_datetime(truth["month_start"])
    observed = month_start + HORIZON <= extracted_at(folder)
    left = truth[CUSTOMER_ID].map(churn_times(read(folder, "holdings")))
    churns = left.notna() & (left < month_start + HORIZON)
    p = truth["p_churn_90d"][observed]
    mean_churners, mean_others = p[churns].mean(), p[~churns].mean()
    assert mean_churners > 3 * mean_others, (mean_churners, mean_others)
    # Calibrated on average: the generator's probabilities add up to the churn it produced.
    assert p.mean() == pytest.approx(churns[observed].mean(), rel=0.3)


def test_truth_tables_cover_customers_with_open_holdings_from_month_two(folder):
    churn = pd.read_parquet(folder / TRUTH_CHURN)
    adoption = pd.read_parquet(folder / TRUTH_ADOPTION)
    assert sorted(churn["month_start"].unique()) == [date(2023, m, 1) for m in range(2, 13)] + [
        date(2024, 1, 1)
    ]
    assert churn["p_churn_90d"].between(0, 1).all()
    keys = [CUSTOMER_ID, "month_start"]
    pd.testing.assert_frame_equal(churn[keys], adoption[keys])

    holdings = read(folder, "holdings")
    first_month = churn[churn["month_start"] == date(2023, 6, 1)]
    at = pd.Timestamp("2023-06-01")
    open_then = holdings[
        (holdings["opened_at"] < at)
        & (holdings["closed_at"].isna() | (holdings["closed_at"] >= at))
    ]
    assert set(first_month[CUSTOMER_ID]) == set(open_then[CUSTOMER_ID])
    # A product held at the month start has no adoption probability; the others do.
    held = set(zip(open_then[CUSTOMER_ID], open_then["product_id"], strict=True))
    adoption_then = adoption[adoption["month_start"] == date(2023, 6, 1)].set_index(CUSTOMER_ID)
    for spec in CATALOGUE:
        p = adoption_then[TRUTH_ADOPTION_PREFIX + spec.product_id]
        is_held = pd.Series([(c, spec.product_id) in held for c in p.index], index=p.index)
        assert p[is_held].isna().all() and p[~is_held].notna().all(), spec.product_id
        assert p.dropna().between(0, 1).all()


def test_products_above_the_risk_appetite_are_rarely_adopted(folder):
    customers = read(folder, "customers").set_index(CUSTOMER_ID)
    products = read(folder, "products").set_index(PRODUCTS.primary_key[0])
    holdings = read(folder, "holdings")
    adopted = holdings[holdings["opened_at"] >= pd.Timestamp("2023-01-01")]
    risk = adopted["product_id"].map(products["risk_level"])
    appetite = adopted[CUSTOMER_ID].map(customers["risk_appetite"])
    assert (risk > appetite).mean() < 0.1


def test_new_customers_arrive_during_the_simulation(folder):
    joined = pd.to_datetime(read(folder, "customers")["joined_at"])
    arrived = (joined >= pd.Timestamp("2023-01-01")).mean()
    assert 0.05 < arrived < 0.2
