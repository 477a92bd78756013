"""The ledger: transactions with their Czech codes translated, and the balances they give.

Day-end balances are read from the running balance each transaction carries; month-end
balances of the current account follow from them, carried over quiet months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.importers.berka.codes import (
    BALANCE_TOLERANCE,
    CURRENT_ACCOUNT,
    K_SYMBOLS,
    OPERATIONS,
    TYPES,
)
from features.importers.berka.files import id_checks, parse_dates, parse_numbers
from features.importers.berka.parties import Accounts
from features.importers.extract import Check, Triage, empty_table, whole_numbers


def import_transactions(
    triage: Triage, raw: pd.DataFrame, source: str, accounts: Accounts, orders: pd.DataFrame
) -> pd.DataFrame:
    """Contract transactions, plus `source_code` (type/operation/k_symbol as in the file)
    and what dating orders and month-end balances need (id, balance, partner)."""
    account = whole_numbers(raw["account_id"])
    day = parse_dates(raw["date"])
    amount, balance = parse_numbers(raw["amount"]), parse_numbers(raw["balance"])
    kind, operation, symbol = (raw[c].str.strip() for c in ("type", "operation", "k_symbol"))
    late = accounts.opened_late(account)
    good = triage.quarantine(
        source,
        raw,
        [
            *id_checks(raw, "trans_id"),
            Check(day.isna(), "date: not a date YYMMDD", "date"),
            accounts.unknown(account, "account_id"),
            Check(~kind.isin(TYPES), f"type: not one of {', '.join(TYPES)}", "type"),
            Check(
                ~operation.isin(OPERATIONS),
                f"operation: not one of {', '.join(o for o in OPERATIONS if o)} or blank",
                "operation",
            ),
            Check(
                ~symbol.isin(K_SYMBOLS) & (symbol != ""),
                f"k_symbol: not one of {', '.join(K_SYMBOLS)} or blank",
                "k_symbol",
            ),
            Check(
                (operation == "") & (symbol == ""),
                "operation and k_symbol both blank: what it was is unknown",
                "trans_id",
            ),
            Check(~(amount >= 0) | ~np.isfinite(amount), "amount: not a number >= 0", "amount"),
            Check(~np.isfinite(balance), "balance: not a number", "balance"),
        ],
    )
    triage.set_aside(source, raw, good & late, "account opened after the extraction time")
    keep = good & ~late
    rows = raw[keep]
    translated = translate_transactions(
        kind[keep], operation[keep], symbol[keep], _order_paid(rows, orders)
    )
    return pd.DataFrame(
        {
            "customer_id": account[keep].map(accounts.customer_of).to_numpy(),
            "ts": day[keep].to_numpy(),
            "amount": amount[keep].to_numpy(),
            **{column: translated[column].to_numpy() for column in translated.columns},
            "account_id": account[keep].astype(str).to_numpy(),
            "source_code": (kind + "/" + operation + "/" + symbol)[keep].to_numpy(),
            "trans_id": whole_numbers(rows["trans_id"]).to_numpy(),
            "balance_after": balance[keep].to_numpy(),
            "partner_bank": rows["bank"].str.strip().to_numpy(),
            "partner_account": rows["account"].str.strip().to_numpy(),
        }
    )


def _order_paid(transactions: pd.DataFrame, orders: pd.DataFrame) -> pd.Series:
    """Per transaction, the k_symbol of the account's standing order to the same partner
    bank and account (missing when there is none). Orders as listed, sound or not: this
    only says who ran a payment."""

    def key(frame: pd.DataFrame, bank: str, account: str) -> pd.MultiIndex:
        return pd.MultiIndex.from_arrays(
            [frame["account_id"].str.strip(), frame[bank].str.strip(), frame[account].str.strip()]
        )

    symbols = orders["k_symbol"].str.strip()
    by_partner = pd.Series(symbols.to_numpy(), index=key(orders, "bank_to", "account_to"))
    # Two orders to one partner: a named kind says more than a blank one.
    by_partner = by_partner.sort_values(ascending=False)
    by_partner = by_partner[~by_partner.index.duplicated()]
    return pd.Series(
        by_partner.reindex(key(transactions, "bank", "account")).to_numpy(),
        index=transactions.index,
    )


def translate_transactions(
    kind: pd.Series, operation: pd.Series, symbol: pd.Series, order_symbol: pd.Series
) -> pd.DataFrame:
    """Direction, channel, counterparty type and category of coded transactions.

    The k_symbol, when there is one, says what the money was for; otherwise the operation
    does. The bank's own bookings (interest, fees) and transfers it runs for a standing
    order (same partner as one of the account's orders, or a k_symbol that only orders
    pay) are channel `system`: the customer did nothing that day. A transfer paying an
    order without a k_symbol takes the order's.

    Args:
        kind, operation, symbol: the `type`, `operation` and `k_symbol` codes, stripped
            (blank = none). Codes outside `TYPES`, `OPERATIONS` and `K_SYMBOLS` give nulls.
        order_symbol: the k_symbol of the standing order a row pays (blank for an order
            without one), missing where it pays none.
    """
    transfer_out = operation == "PREVOD NA UCET"
    pays_order = transfer_out & order_symbol.notna()
    symbol = symbol.mask(pays_order & (symbol == ""), order_symbol)
    ops, syms = operation.map(OPERATIONS), symbol.map(K_SYMBOLS)

    def field(codes: pd.Series, name: str) -> pd.Series:
        return codes.map(lambda code: getattr(code, name), na_action="ignore")

    has_symbol = syms.notna()
    by_bank = field(syms, "booked_by_bank").fillna(False).astype(bool)
    standing = field(syms, "standing_order").fillna(False).astype(bool)
    run_by_bank = by_bank | pays_order | (standing & transfer_out)
    return pd.DataFrame(
        {
            "direction": kind.map(TYPES),
            "channel": field(ops, "channel").mask(ops.notna() & run_by_bank, "system"),
            "counterparty_type": field(syms, "counterparty").where(
                has_symbol, field(ops, "counterparty")
            ),
            "category": field(syms, "meaning").where(has_symbol, field(ops, "meaning")),
        },
        index=kind.index,
    )


def month_end_balances(
    day_end: pd.DataFrame, accounts: Accounts, cutoff: pd.Timestamp
) -> pd.DataFrame:
    """Current-account balance at every month end from the account's first transaction to
    the extraction (day-end balances, carried over quiet months). An owner of several
    accounts has their sum: the contract keys balances by customer, product and day."""
    day_end = day_end.sort_values("day")
    if day_end.empty:
        return empty_table("balances")
    last_month_end = cutoff + pd.offsets.MonthEnd(0)
    if last_month_end > cutoff:
        last_month_end -= pd.offsets.MonthEnd(1)
    first = day_end.groupby("account_id")["day"].min() + pd.offsets.MonthEnd(0)
    grid = pd.concat(
        [
            pd.DataFrame(
                {"account_id": account, "snapshot": pd.date_range(start, last_month_end, freq="ME")}
            )
            for account, start in first.items()
        ],
        ignore_index=True,
    ).sort_values("snapshot")
    snapshots = pd.merge_asof(
        grid, day_end, left_on="snapshot", right_on="day", by="account_id", direction="backward"
    )
    return (
        pd.DataFrame(
            {
                "customer_id": snapshots["account_id"].map(_by_text_id(accounts.customer_of)),
                "product_id": CURRENT_ACCOUNT,
                "snapshot_date": snapshots["snapshot"].dt.date,
                "balance": snapshots["balance"],
            }
        )
        .groupby(["customer_id", "product_id", "snapshot_date"], as_index=False, sort=True)
        .sum()
    )


def day_end_balances(transactions: pd.DataFrame) -> pd.DataFrame:
    """Each account's balance at the end of each day it moved.

    Same-day transactions carry no time, and their ids are not in booking order, so the
    day's last one is found from the balances: it is the one whose balance no other
    transaction of that day starts from (balance before = balance after − signed amount).
    Where that leaves no single candidate (rounding), the largest id decides.

    Returns:
        Columns `account_id`, `day`, `balance`.
    """
    tx = transactions.assign(
        day=transactions["ts"],
        before=transactions["balance_after"]
        - np.where(transactions["direction"] == "credit", 1, -1) * transactions["amount"],
    )[["account_id", "day", "trans_id", "balance_after", "before"]]
    pairs = tx.merge(
        tx[["account_id", "day", "trans_id", "before"]],
        on=["account_id", "day"],
        suffixes=("", "_other"),
    )
    pairs = pairs[pairs["trans_id"] != pairs["trans_id_other"]]
    feeds_another = pairs.loc[
        (pairs["balance_after"] - pairs["before_other"]).abs() <= BALANCE_TOLERANCE, "trans_id"
    ]
    candidates = tx[~tx["trans_id"].isin(feeds_another)]
    # A day where every transaction feeds another (a rounding loop) keeps all as candidates.
    missing = ~tx.set_index(["account_id", "day"]).index.isin(
        candidates.set_index(["account_id", "day"]).index
    )
    candidates = pd.concat([candidates, tx[missing]])
    last = candidates.sort_values("trans_id").groupby(["account_id", "day"]).tail(1)
    return last.rename(columns={"balance_after": "balance"})[["account_id", "day", "balance"]]


def _by_text_id(series: pd.Series) -> pd.Series:
    """The same mapping keyed by the id as text (how contract tables hold ids)."""
    return pd.Series(series.to_numpy(), index=series.index.astype(str))
