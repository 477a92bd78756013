"""Holdings: the current account, cards, loans and standing orders of each customer.

Each product starts on a day the source gives (opening, issue, grant) or, for standing
orders that carry no date, on their first payment; whatever starts after the extraction
time is set aside, with the reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.importers.berka.codes import CARD_PRODUCTS, CURRENT_ACCOUNT, LOAN, ORDER_PRODUCTS
from features.importers.berka.files import (
    after_extraction,
    id_checks,
    parse_dates,
    parse_numbers,
)
from features.importers.berka.parties import Accounts
from features.importers.extract import Check, Triage, whole_numbers


def current_account_holdings(accounts: Accounts, day_end: pd.DataFrame) -> pd.DataFrame:
    """One current account per account, with the balance booked last."""
    last = day_end.sort_values("day").groupby("account_id")["balance"].last()
    ids = accounts.customer_of.index.astype(str)
    return pd.DataFrame(
        {
            "customer_id": accounts.customer_of.to_numpy(),
            "product_id": CURRENT_ACCOUNT,
            "opened_at": accounts.opened.to_numpy(),
            "closed_at": pd.NaT,
            "account_id": ids,
            "balance_or_limit": last.reindex(ids).to_numpy(),
        }
    )


def import_card_holdings(
    triage: Triage,
    raw: pd.DataFrame,
    source: str,
    disp: pd.DataFrame,
    accounts: Accounts,
    cutoff: pd.Timestamp,
) -> pd.DataFrame:
    """Cards belong to the account's owner, whichever disposition they were issued to."""
    issued = parse_dates(raw["issued"])
    kind = raw["type"].str.strip()
    account = whole_numbers(raw["disp_id"]).map(disp.set_index("disp_id")["account_id"])
    late = accounts.opened_late(account)
    good = triage.quarantine(
        source,
        raw,
        [
            *id_checks(raw, "card_id"),
            Check(
                ~kind.isin(CARD_PRODUCTS), f"type: not one of {', '.join(CARD_PRODUCTS)}", "type"
            ),
            Check(issued.isna(), "issued: not a date YYMMDD", "issued"),
            accounts.unknown(account, "disp_id"),
        ],
    )
    keep = _set_aside_late(triage, source, raw, good, late, issued > cutoff, "issued", cutoff)
    return pd.DataFrame(
        {
            "customer_id": account[keep].map(accounts.customer_of).to_numpy(),
            "product_id": kind[keep].map(CARD_PRODUCTS).to_numpy(),
            "opened_at": issued[keep].to_numpy(),
            "closed_at": pd.NaT,
            "account_id": ("card-" + raw["card_id"][keep].str.strip()).to_numpy(),
            "balance_or_limit": np.nan,
        }
    )


def import_loan_holdings(
    triage: Triage, raw: pd.DataFrame, source: str, accounts: Accounts, cutoff: pd.Timestamp
) -> pd.DataFrame:
    """A loan is held from the day it is granted to the end of its term (`duration`
    months); an end after the extraction is a plan, which loading reads as still open."""
    granted = parse_dates(raw["date"])
    months = whole_numbers(raw["duration"])
    amount = parse_numbers(raw["amount"])
    account = whole_numbers(raw["account_id"])
    late = accounts.opened_late(account)
    good = triage.quarantine(
        source,
        raw,
        [
            *id_checks(raw, "loan_id"),
            Check(granted.isna(), "date: not a date YYMMDD", "date"),
            Check(
                ~(months > 0).fillna(False),
                "duration: not a whole number of months > 0",
                "duration",
            ),
            Check(~(amount > 0), "amount: not a number > 0", "amount"),
            accounts.unknown(account, "account_id"),
        ],
    )
    keep = _set_aside_late(triage, source, raw, good, late, granted > cutoff, "granted", cutoff)
    ends = [
        day + pd.DateOffset(months=int(n))
        for day, n in zip(granted[keep], months[keep], strict=True)
    ]
    return pd.DataFrame(
        {
            "customer_id": account[keep].map(accounts.customer_of).to_numpy(),
            "product_id": LOAN,
            "opened_at": granted[keep].to_numpy(),
            "closed_at": pd.to_datetime(pd.Series(ends, dtype="datetime64[ns]")).to_numpy(),
            "account_id": ("loan-" + raw["loan_id"][keep].str.strip()).to_numpy(),
            "balance_or_limit": amount[keep].to_numpy(),
        }
    )


def import_order_holdings(
    triage: Triage,
    raw: pd.DataFrame,
    source: str,
    accounts: Accounts,
    transactions: pd.DataFrame,
) -> pd.DataFrame:
    """A standing order is held from its first payment: the same account paying the same
    partner bank and account. order.asc has no date, and describes the end of 1998."""
    symbol = raw["k_symbol"].str.strip()
    account = whole_numbers(raw["account_id"])
    late = accounts.opened_late(account)
    good = triage.quarantine(
        source,
        raw,
        [
            *id_checks(raw, "order_id"),
            Check(
                ~symbol.isin(ORDER_PRODUCTS),
                f"k_symbol: not one of {', '.join(s for s in ORDER_PRODUCTS if s)} or blank",
                "k_symbol",
            ),
            accounts.unknown(account, "account_id"),
        ],
    )
    payments = transactions[
        transactions["source_code"].str.contains("/PREVOD NA UCET/", regex=False)
    ]
    first_paid = payments.groupby(["account_id", "partner_bank", "partner_account"])["ts"].min()
    key = pd.MultiIndex.from_arrays(
        [account.astype(str), raw["bank_to"].str.strip(), raw["account_to"].str.strip()]
    )
    started = pd.Series(first_paid.reindex(key).to_numpy(), index=raw.index)
    triage.set_aside(source, raw, good & late, "account opened after the extraction time")
    unpaid = good & ~late & started.isna()
    triage.set_aside(
        source,
        raw,
        unpaid,
        "no payment before the extraction time: when it started is unknown (no date in order)",
    )
    keep = good & ~late & ~unpaid
    return pd.DataFrame(
        {
            "customer_id": account[keep].map(accounts.customer_of).to_numpy(),
            "product_id": symbol[keep].map(ORDER_PRODUCTS).to_numpy(),
            "opened_at": started[keep].to_numpy(),
            "closed_at": pd.NaT,
            "account_id": ("order-" + raw["order_id"][keep].str.strip()).to_numpy(),
            "balance_or_limit": np.nan,
        }
    )


def _set_aside_late(
    triage: Triage,
    source: str,
    raw: pd.DataFrame,
    good: pd.Series,
    late_account: pd.Series,
    starts_late: pd.Series,
    verb: str,
    cutoff: pd.Timestamp,
) -> pd.Series:
    """Set aside sound rows of accounts opened late, or that start late themselves.

    Returns:
        The rows to import.
    """
    triage.set_aside(source, raw, good & late_account, "account opened after the extraction time")
    starts_after = f"{verb} {after_extraction(cutoff)}"
    triage.set_aside(source, raw, good & ~late_account & starts_late, starts_after)
    return good & ~late_account & ~starts_late


def merge_same_key_holdings(holdings: pd.DataFrame) -> pd.DataFrame:
    """One holding per customer, product and opening time (the contract's key).

    Two orders of one kind first paid on the same day, or two cards of one type issued
    the same day, are one product held: their source ids are joined in `account_id`.
    """
    key = ["customer_id", "product_id", "opened_at"]
    merged = holdings.groupby(key, as_index=False, sort=False).agg(
        closed_at=("closed_at", "max"),
        account_id=("account_id", ",".join),
        balance_or_limit=("balance_or_limit", lambda values: values.sum(min_count=1)),
    )
    return merged[holdings.columns]
