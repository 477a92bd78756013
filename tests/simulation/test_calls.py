"""Retention calls in the synthetic bank: the past stays put, the truth knows each response,
the calls file says who was reached, and persuadable customers who are called churn less."""

from __future__ import annotations

from datetime import date
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pytest

from common.names import TRUTH_ADOPTION, TRUTH_CALLS, TRUTH_CHURN, TRUTH_DEPARTURES
from features.schema import CUSTOMERS, TABLES
from simulation.bank import CALL_EFFECT_MONTHS, RESPONSES, generate_bank

CUSTOMER_ID = CUSTOMERS.primary_key[0]
START = date(2023, 1, 1)
MONTHS = 7  # January to July 2023: the 90 days after the call month are all observed
SEED = 20
N_CUSTOMERS = 10_000
CALL_DAY = date(2023, 4, 1)
CALL_TS = pd.Timestamp(CALL_DAY)
HORIZON = pd.Timedelta(days=90)
# Tables whose every row is known before the months are simulated, or whose rows change
# after they are written (holdings close later, customers hold the attributes at extraction,
# an attribute version ends when the next begins): compared in full or separately.
WHOLE = ("products", "market_rates")
SEPARATE = ("holdings", "customers", "customer_attributes")
STATIC_CUSTOMER_COLUMNS = [CUSTOMER_ID, "birth_date", "joined_at", "gender"]


def read(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(folder / f"{table}.parquet")


def read_truth(folder: Path, path: PurePosixPath = TRUTH_CHURN) -> pd.DataFrame:
    frame = pd.read_parquet(folder / path)
    if "response" in frame:
        frame["response"] = frame["response"].astype(str)
    frame["month_start"] = pd.to_datetime(frame["month_start"])
    return frame


def churn_times(holdings: pd.DataFrame) -> pd.Series:
    """When each churner's last holding closed, for customers with every holding closed."""
    by_customer = holdings.groupby(CUSTOMER_ID)["closed_at"]
    all_closed = by_customer.apply(lambda closed: closed.notna().all())
    return by_customer.max()[all_closed]


def churned_within_90_days(folder: Path, customers) -> pd.Series:
    """Whether each customer closed everything within 90 days of the call day."""
    left = churn_times(read(folder, "holdings"))
    left = left[(left >= CALL_TS) & (left < CALL_TS + HORIZON)]
    return pd.Series(customers, index=customers).isin(left.index)


def sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    columns = list(frame.columns)
    return frame.sort_values(columns, kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def banks(tmp_path_factory) -> dict:
    """The same bank without and with calls on CALL_DAY.

    The calls reach every customer leaving or persuadable at the call day, every third
    other customer at the bank, customers who had already left (skipped by the generator),
    customers who join later (skipped too) and one id twice.
    """
    root = tmp_path_factory.mktemp("synth_calls")
    args = {"n_customers": N_CUSTOMERS, "months": MONTHS, "seed": SEED, "start": START}
    base = root / "base"
    generate_bank(base, **args)
    truth = read_truth(base)
    at_call = truth[truth["month_start"] == CALL_TS].set_index(CUSTOMER_ID)
    key = at_call["leaving"] | (at_call["response"] == "persuadable")
    others = at_call.index[~key]
    present = sorted(set(at_call.index[key]) | set(others[::3]))
    left = churn_times(read(base, "holdings"))
    gone = sorted(left[left < CALL_TS].index)[:25]
    joined = pd.to_datetime(read(base, "customers").set_index(CUSTOMER_ID)["joined_at"])
    later = sorted(joined[joined > CALL_TS].index)[:25]
    assert len(gone) == 25 and len(later) == 25, "the bank has too few leavers or arrivals"
    called_ids = [*present, *gone, *later, present[0]]
    called = root / "called"
    generate_bank(called, **args, calls={CALL_DAY: called_ids})
    return {
        "base": base,
        "called": called,
        "at_call": at_call,
        "present": present,
        "gone": gone,
        "later": later,
    }


# ------------------------------------------------------------------------- the past stays


def test_months_before_the_call_are_identical_and_later_months_differ(banks):
    base, called = banks["base"], banks["called"]
    for table in WHOLE:
        pd.testing.assert_frame_equal(read(base, table), read(called, table), obj=table)
    customers = [read(folder, "customers")[STATIC_CUSTOMER_COLUMNS] for folder in (base, called)]
    pd.testing.assert_frame_equal(*customers, obj="customers")
    versions = [
        sorted_frame(frame[frame["valid_from"] < CALL_TS].drop(columns="valid_to"))
        for frame in (read(base, "customer_attributes"), read(called, "customer_attributes"))
    ]
    assert len(versions[0]) > len(customers[0]), "no attribute changed before the call"
    pd.testing.assert_frame_equal(*versions, obj="attribute versions before the call")
    dated = [table for table in TABLES if table.name not in WHOLE + SEPARATE]
    assert {table.name for table in dated} == {"transactions", "interactions", "balances"}
    for table in dated:
        before = [
            sorted_frame(frame[pd.to_datetime(frame[table.event_time]) < CALL_TS])
            for frame in (read(base, table.name), read(called, table.name))
        ]
        assert len(before[0]) > 0, table.name
        pd.testing.assert_frame_equal(*before, obj=f"{table.name} before the call")

    # Holdings: a holding closed before the call is the same row; one open at the call may
    # close differently afterwards, but it was opened the same way.
    holdings = [read(base, "holdings"), read(called, "holdings")]
    closed = [sorted_frame(h[h["closed_at"] < CALL_TS]) for h in holdings]
    assert len(closed[0]) > 0
    pd.testing.assert_frame_equal(*closed, obj="holdings closed before the call")
    keys = [CUSTOMER_ID, "product_id", "account_id", "opened_at"]
    opened = [sorted_frame(h.loc[h["opened_at"] < CALL_TS, keys]) for h in holdings]
    pd.testing.assert_frame_equal(*opened, obj="holdings opened before the call")

    # The truth up to and including the call month (what a campaign scored then sees).
    for name in (TRUTH_CHURN, TRUTH_ADOPTION):
        frames = [read_truth(folder, name) for folder in (base, called)]
        until = [sorted_frame(f[f["month_start"] <= CALL_TS]) for f in frames]
        pd.testing.assert_frame_equal(*until, obj=f"{name} until the call month")

    # After the call the bank lives on differently.
    for table in ("transactions", "interactions"):
        after = [
            sorted_frame(frame[frame["ts"] >= CALL_TS])
            for frame in (read(base, table), read(called, table))
        ]
        assert not after[0].equals(after[1]), f"{table} after the call unchanged"
    assert not sorted_frame(holdings[0]).equals(sorted_frame(holdings[1]))
    frames = [read_truth(folder) for folder in (base, called)]
    after = [sorted_frame(f[f["month_start"] > CALL_TS]) for f in frames]
    assert not after[0].equals(after[1])
    assert not (base / TRUTH_CALLS).exists()


# ------------------------------------------------------------------------------- the truth


def _without_call_in_force(truth: pd.DataFrame, calls: pd.DataFrame) -> pd.DataFrame:
    """Rows where no earlier call's effect is in force: a new call would then replace it,
    and `response` describes the effect against a customer never called."""
    called = truth[CUSTOMER_ID].isin(calls[CUSTOMER_ID])
    months_after = (truth["month_start"].dt.year - CALL_TS.year) * 12 + (
        truth["month_start"].dt.month - CALL_TS.month
    )
    in_force = called & (months_after >= 1) & (months_after < CALL_EFFECT_MONTHS)
    return truth[~in_force]


def test_truth_of_a_call_follows_each_response(banks):
    truth = read_truth(banks["called"])
    calls = read_truth(banks["called"], TRUTH_CALLS)
    assert set(truth["response"]) == set(RESPONSES)
    p, if_called = truth["p_churn_90d"], truth["p_churn_90d_if_called"]
    assert if_called.notna().all() and if_called.between(0, 1).all()

    clean = _without_call_in_force(truth, calls)
    assert len(clean) > 0.5 * len(truth)
    p, if_called = clean["p_churn_90d"], clean["p_churn_90d_if_called"]
    kind = clean["response"]

    lost = kind == "lost_cause"
    assert lost.sum() > 100
    np.testing.assert_allclose(if_called[lost], p[lost], rtol=0, atol=1e-12)

    dog = (kind == "sleeping_dog") & (p > 0)
    assert dog.sum() > 50
    assert (if_called[dog] > p[dog]).all()

    persuaded = (kind == "persuadable") & ~clean["leaving"]
    assert persuaded.sum() > 100
    assert (if_called[persuaded] < p[persuaded]).all()

    # For everybody else a call is a mild reassurance.
    sure = (kind == "sure_thing") & (p > 0)
    assert sure.sum() > 100
    assert (if_called[sure] < p[sure]).all()
    assert (if_called[sure] > 0.5 * p[sure]).all()

    # Leavers who cannot be turned round leave whatever is done: their fate is drawn, so
    # they close within 90 days (1) or only by a death or the bank's closure (a little).
    lost_leavers = clean["leaving"] & lost
    assert lost_leavers.sum() > 10
    assert ((p[lost_leavers] == 1.0) | (p[lost_leavers] < 0.05)).all()


# ------------------------------------------------------------------------- the calls file


def test_calls_file_lists_the_called_customers_still_at_the_bank(banks):
    calls = read_truth(banks["called"], TRUTH_CALLS)
    at_call = banks["at_call"]
    assert list(calls.columns) == [
        CUSTOMER_ID,
        "month_start",
        "response",
        "was_leaving",
        "saved",
    ]
    assert calls[CUSTOMER_ID].is_unique
    assert set(calls[CUSTOMER_ID]) == set(banks["present"])
    assert not set(calls[CUSTOMER_ID]) & (set(banks["gone"]) | set(banks["later"]))
    assert (calls["month_start"] == CALL_TS).all()

    # Response and leaving as the truth had them at the call (before the call).
    indexed = calls.set_index(CUSTOMER_ID)
    expected = at_call.loc[indexed.index]
    assert (indexed["response"] == expected["response"]).all()
    assert (indexed["was_leaving"] == expected["leaving"]).all()

    # Only leavers are saved, only those a call can turn round, and some are.
    saved = indexed[indexed["saved"]]
    assert len(saved) > 0, "no leaver saved: the test bank needs more aggrieved leavers"
    assert saved["was_leaving"].all()
    assert (saved["response"] == "persuadable").all()
    assert (
        indexed.loc[indexed["was_leaving"] & (indexed["response"] == "lost_cause"), "saved"]
        .eq(False)
        .all()
    )

    # A saved leaver stops leaving: the closing or going quiet that the bank without calls
    # has is cancelled (a saved customer may decide to leave again later, on a fresh date).
    departures = [
        pd.read_parquet(folder / TRUTH_DEPARTURES).set_index(CUSTOMER_ID)[
            ["closed_at", "dormant_at"]
        ]
        for folder in (banks["base"], banks["called"])
    ]
    for customer in saved.index:
        assert at_call.at[customer, "leaving"]
        base_gone = departures[0].loc[customer].tolist()
        assert base_gone != departures[1].reindex([customer]).iloc[0].tolist(), customer
    truth = read_truth(banks["called"])
    next_month = truth[truth["month_start"] == CALL_TS + pd.DateOffset(months=1)]
    still_there = next_month[next_month[CUSTOMER_ID].isin(saved.index)]
    assert len(still_there) == len(saved)
    assert (~still_there["leaving"]).sum() >= len(saved) / 2


# ------------------------------------------------------------------------------ the effect


def test_called_persuadable_customers_churn_less_than_without_the_call(banks):
    at_call = banks["at_call"]
    persuadable = at_call.index[at_call["response"] == "persuadable"]
    assert set(persuadable) <= set(banks["present"])
    assert len(persuadable) > 2000
    without = churned_within_90_days(banks["base"], persuadable).sum()
    with_call = churned_within_90_days(banks["called"], persuadable).sum()
    # The truth expects about a quarter of the churn; the realised counts are tens.
    expected = at_call.loc[persuadable, ["p_churn_90d", "p_churn_90d_if_called"]].sum()
    assert expected["p_churn_90d_if_called"] < 0.5 * expected["p_churn_90d"]
    assert without >= 25, without
    assert with_call < 0.6 * without, (with_call, without)

    # Leavers who are lost causes churn all the same.
    lost = at_call.index[at_call["leaving"] & (at_call["response"] == "lost_cause")]
    pd.testing.assert_series_equal(
        churned_within_90_days(banks["base"], lost), churned_within_90_days(banks["called"], lost)
    )


# -------------------------------------------------------------------------------- bad calls


@pytest.mark.parametrize(
    ("calls", "message"),
    [
        ({date(2023, 3, 15): ["C0000001"]}, "campaign day 2023-03-15 is not the first day"),
        ({START: ["C0000001"]}, "campaign day 2023-01-01 is not the first day"),
        ({date(2022, 12, 1): ["C0000001"]}, "campaign day 2022-12-01 is not the first day"),
        ({date(2023, 3, 1): ["C0000001", "C9999999"]}, "no customer C9999999"),
        ({date(2023, 3, 1): ["X1"]}, "'X1' is not a customer id"),
        ({date(2023, 3, 1): ["C"]}, "'C' is not a customer id"),
        ({date(2023, 3, 1): ["C1"]}, "'C1' is not a customer id"),
    ],
    ids=[
        "mid-month",
        "first-month",
        "before-start",
        "unknown-id",
        "malformed-id",
        "no-number",
        "unpadded-id",
    ],
)
def test_bad_calls_are_refused_naming_the_day_or_id(tmp_path, calls, message):
    with pytest.raises(ValueError, match=message):
        generate_bank(tmp_path, n_customers=600, months=4, seed=1, start=START, calls=calls)
    assert not (tmp_path / TRUTH_CALLS).exists()


def test_calls_after_the_simulated_months_are_refused(tmp_path):
    """Regression: the spare countdown months after the extract were accepted as call days
    and the calls silently never applied."""
    # Six months from January: the extract ends 2023-06-30, so July is not simulated.
    with pytest.raises(ValueError, match="2023-07-01"):
        generate_bank(
            tmp_path,
            n_customers=600,
            months=6,
            seed=1,
            start=START,
            calls={date(2023, 7, 1): ["C0000001"]},
        )


def test_a_small_bank_with_calls_generates(tmp_path):
    """Regression: a month without complaints made the engagement shocks integers and the
    callbacks' float shocks then failed to add (small banks crashed)."""
    generate_bank(
        tmp_path,
        n_customers=200,
        months=3,
        seed=7,
        start=START,
        calls={date(2023, 2, 1): ["C0000001"]},
    )
    assert (tmp_path / TRUTH_CALLS).exists()
