"""The Berka / PKDD'99 Czech bank (1993–1998) → the bank data contract.

The source is eight `;`-separated `.asc` files (quoted strings, dates YYMMDD in the 1900s)
documented in the challenge's `berka_data_description.pdf`. The mapping, decided once here:

* a client with the OWNER disposition of an account is a customer, born on the date of the
  birth number (month + 50 for women), joined when the account was opened, living in the
  region of the client's district; district attributes ride along as extra columns, except
  the 1995 and 1996 figures (they postdate a partial extract, and are the same whatever the
  as-of date: they would leak the future into every snapshot);
* the account, its cards, its loan and its standing orders are holdings of a small catalogue
  (`CATALOGUE`); orders carry no date, so each is dated by its first payment seen;
* transactions keep their amount and date; the Czech codes become direction, channel,
  counterparty type and an English category (`TYPES`, `OPERATIONS`, `K_SYMBOLS`), and the
  original codes stay in an extra `source_code` column;
* month-end balances of the current account come from the running balance of transactions.

The extraction time is the last day of the transaction file. Anything that starts later
(accounts, cards, loans, orders) is set aside, listed with the reason, not imported: a
partial transaction file describes the bank as it was on its last day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import DataError
from features.importers.extract import (
    Check,
    ImportedExtract,
    Product,
    Triage,
    assemble,
    empty_table,
    end_of_day,
    first_reason,
    require_columns,
    whole_numbers,
)
from features.schema import TRANSACTIONS

SOURCE = "Berka PKDD'99 financial dataset (Czech bank)"
# Columns the importer reads from each file (others are not imported; docs/data-import.md).
COLUMNS: dict[str, tuple[str, ...]] = {
    "district": ("A1", "A2", "A3", "A4", "A10", "A11", "A14"),
    "client": ("client_id", "birth_number", "district_id"),
    "account": ("account_id", "date"),
    "disp": ("disp_id", "client_id", "account_id", "type"),
    "card": ("card_id", "disp_id", "type", "issued"),
    "loan": ("loan_id", "account_id", "date", "amount", "duration"),
    "order": ("order_id", "account_id", "bank_to", "account_to", "amount", "k_symbol"),
    "trans": (
        "trans_id",
        "account_id",
        "date",
        "type",
        "operation",
        "amount",
        "balance",
        "k_symbol",
        "bank",
        "account",
    ),
}
# The full file is trans.asc; shortened copies carry their range in the name.
TRANSACTIONS_PATTERN = "trans*.asc"

# District columns kept on the customer (the contract's `region` holds A3). Not A12, A13,
# A15 and A16, unemployment and crimes in 1995 and 1996: later than a partial extract, and
# joined to every snapshot alike. The description gives no year for A4, A10, A11 and A14.
DISTRICT_EXTRAS = {
    "A2": "district",
    "A4": "district_inhabitants",
    "A10": "district_urban_ratio",
    "A11": "district_avg_salary",
    "A14": "district_entrepreneurs_per_1000",
}

OWNER, USER = "OWNER", "DISPONENT"
# Transaction `type`: PRIJEM credit, VYDAJ withdrawal. VYBER (cash withdrawal) appears as a
# type too, though the description lists it only as an operation.
TYPES = {"PRIJEM": "credit", "VYDAJ": "debit", "VYBER": "debit"}


@dataclass(frozen=True)
class Operation:
    """A transaction `operation` code: what the customer did, and where."""

    meaning: str
    channel: str
    counterparty: str | None  # None: only the k_symbol can say (interest has no operation)


OPERATIONS = {
    "VKLAD": Operation("cash deposit", "branch", "cash"),
    "VYBER": Operation("cash withdrawal", "branch", "cash"),
    "VYBER KARTOU": Operation("card withdrawal", "atm", "cash"),
    "PREVOD Z UCTU": Operation("transfer from another bank", "system", "transfer_in"),
    "PREVOD NA UCET": Operation("transfer to another bank", "branch", "transfer_out_other_bank"),
    "": Operation("bank booking", "system", None),
}


@dataclass(frozen=True)
class Symbol:
    """A `k_symbol` code: what the payment was for. It decides the counterparty type."""

    meaning: str
    counterparty: str
    booked_by_bank: bool = False  # interest and fees: channel system whatever the operation
    standing_order: bool = False  # paid by a permanent order: system when it is a transfer


K_SYMBOLS = {
    "POJISTNE": Symbol("insurance payment", "bill", standing_order=True),
    "SLUZBY": Symbol("statement fee", "fee", booked_by_bank=True),
    "UROK": Symbol("interest credited", "interest", booked_by_bank=True),
    # The contract has no penalty category: it is a charge by the bank, so a fee.
    "SANKC. UROK": Symbol("penalty interest", "fee", booked_by_bank=True),
    "SIPO": Symbol("household payment", "bill", standing_order=True),
    "DUCHOD": Symbol("old-age pension", "pension"),
    "UVER": Symbol("loan payment", "loan_payment", standing_order=True),
    # Listed for permanent orders only; a payment of one would carry it.
    "LEASING": Symbol("leasing payment", "loan_payment", standing_order=True),
}


CURRENT_ACCOUNT = "current_account"
LOAN = "loan"
CARD_PRODUCTS = {"junior": "card_junior", "classic": "card_classic", "gold": "card_gold"}
ORDER_PRODUCTS = {
    "SIPO": "order_household",
    "POJISTNE": "order_insurance",
    "UVER": "order_loan",
    "LEASING": "order_leasing",
    "": "order_other",
}
# Risk: cards 2, loans 3, everything else 1 (the importer's choice: Berka has none).
CATALOGUE = (
    Product(CURRENT_ACCOUNT, "Current account", "current_account"),
    Product("card_junior", "Junior card", "credit_card", 2),
    Product("card_classic", "Classic card", "credit_card", 2, 18),
    Product("card_gold", "Gold card", "credit_card", 2, 18),
    Product(LOAN, "Loan", "personal_loan", 3, 18),
    Product("order_household", "Standing order: household payments (SIPO)", "other"),
    Product("order_insurance", "Standing order: insurance premium (POJISTNE)", "other"),
    Product("order_loan", "Standing order: loan repayment (UVER)", "other"),
    Product("order_leasing", "Standing order: leasing (LEASING)", "other"),
    Product("order_other", "Standing order: other payments", "other"),
)

# Interest is rounded in the source, so a running balance is off by up to 0.1 now and then.
BALANCE_TOLERANCE = 0.15


@dataclass(frozen=True)
class BerkaFiles:
    """The source files as read: text columns, nothing parsed yet.

    Attributes:
        frames: table name (`COLUMNS` keys) → the file's rows.
        names: table name → file name, for reports.
    """

    frames: dict[str, pd.DataFrame]
    names: dict[str, str]


def read_berka(folder: Path) -> BerkaFiles:
    """Read the eight `.asc` files of a Berka folder as text.

    Raises:
        DataError: the folder, a file or a column the importer needs is missing.
    """
    if not folder.is_dir():
        raise DataError(f"berka: {folder} is not a folder (expected the .asc files in it)")
    paths = {name: folder / f"{name}.asc" for name in COLUMNS if name != "trans"}
    transactions = sorted(folder.glob(TRANSACTIONS_PATTERN))
    if len(transactions) != 1:
        found = ", ".join(p.name for p in transactions) or "none"
        raise DataError(
            f"berka: expected one transaction file {TRANSACTIONS_PATTERN} in {folder}, "
            f"found {found}"
        )
    paths["trans"] = transactions[0]
    frames = {}
    for name, path in paths.items():
        if not path.exists():
            raise DataError(f"berka: no {path.name} in {folder}")
        frame = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
        require_columns(path.name, frame, COLUMNS[name])
        frames[name] = frame
    return BerkaFiles(frames, {name: path.name for name, path in paths.items()})


@dataclass(frozen=True)
class Accounts:
    """Where each account stands once owners are known.

    Attributes:
        customer_of: account id → customer id, for accounts imported.
        opened: account id → opening day, for accounts imported.
        late: ids of sound accounts opened after the extraction time (set aside).
    """

    customer_of: pd.Series
    opened: pd.Series
    late: pd.Index

    def unknown(self, account: pd.Series, column: str) -> Check:
        """Rows pointing at an account neither imported nor set aside are bad."""
        unknown = ~account.isin(self.customer_of.index) & ~self.opened_late(account)
        return Check(unknown, f"{column}: no imported account (see account)", column)

    def opened_late(self, account: pd.Series) -> pd.Series:
        """Rows pointing at an account set aside (opened after the extraction time)."""
        return account.isin(self.late)


def import_berka(files: BerkaFiles) -> ImportedExtract:
    """Translate the Berka tables into contract tables.

    Returns:
        Customers, products, holdings, transactions, balances and an empty interactions
        table, with every row not imported listed with its reason. The inputs are unchanged.

    Raises:
        DataError: no transaction has a readable date (the extraction time is unknown).
    """
    raw, name = files.frames, files.names
    triage = Triage()
    for table, frame in raw.items():
        triage.start(name[table], len(frame))
    extracted_at = _extraction_time(raw["trans"], name["trans"])
    cutoff = pd.Timestamp(extracted_at.date())

    districts = _districts(triage, raw["district"], name["district"])
    clients = _clients(triage, raw["client"], name["client"], districts)
    opened = _accounts(triage, raw["account"], name["account"], cutoff)
    late = opened.index[opened > cutoff]
    disp = _dispositions(triage, raw["disp"], name["disp"], clients, opened, late)
    customers, accounts = _customers(
        triage, raw, name, clients, districts, disp, opened.drop(late), late, cutoff
    )
    transactions = _transactions(triage, raw["trans"], name["trans"], accounts, raw["order"])
    day_end = day_end_balances(transactions)
    holdings = pd.concat(
        [
            _account_holdings(accounts, day_end),
            _card_holdings(triage, raw["card"], name["card"], disp, accounts, cutoff),
            _loan_holdings(triage, raw["loan"], name["loan"], accounts, cutoff),
            _order_holdings(triage, raw["order"], name["order"], accounts, transactions),
        ],
        ignore_index=True,
    )
    tables = {
        "customers": customers,
        "holdings": _merge_same_key_holdings(holdings),
        "transactions": transactions[[*TRANSACTIONS.column_names, "source_code"]],
        "balances": month_end_balances(day_end, accounts, cutoff),
    }
    notes = (
        f"extraction time = the last transaction day, {cutoff:%Y-%m-%d}; "
        f"{len(accounts.late):,} accounts opened later have no transactions in this file and "
        "are set aside with their owners, cards, loans and orders",
        "the source has no salary code: salary features see only pensions (DUCHOD)",
        "standing orders carry no date: each is dated by its first payment in the "
        "transaction file; orders with no payment by the extraction time are set aside",
        "loan status (A-D) describes the loans at the end of 1998: not imported (it would "
        "tell the future of an earlier loan)",
        "order.asc lists the standing orders of the end of 1998: orders cancelled earlier are "
        "missing, and their payments without a k_symbol read as one-off transfers (branch)",
        "district unemployment and crimes of 1995 and 1996 (A12, A13, A15, A16) are not "
        "imported: they postdate a partial extract and would be joined to every snapshot",
    )
    return assemble(
        f"{SOURCE}, transactions from {name['trans']}",
        triage,
        tables,
        CATALOGUE,
        extracted_at,
        notes,
    )


def decode_birth_number(numbers: pd.Series) -> pd.DataFrame:
    """Birth date and gender from Czech birth numbers YYMMDD (women: month + 50), 1900s.

    Returns:
        Columns `birth_date` (NaT where the number is not a valid date) and `gender`.
    """
    text = numbers.str.strip()
    valid = text.str.fullmatch(r"\d{6}")
    digits = text.where(valid, "000000")
    month = digits.str[2:4].astype(int)
    female = month > 50
    month = month.where(~female, month - 50)
    born = pd.to_datetime(
        "19" + digits.str[:2] + month.astype(str).str.zfill(2) + digits.str[4:6],
        format="%Y%m%d",
        errors="coerce",
    )
    return pd.DataFrame(
        {"birth_date": born.where(valid), "gender": np.where(female, "F", "M")},
        index=numbers.index,
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
                "customer_id": snapshots["account_id"].map(_str_index(accounts.customer_of)),
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


# ----------------------------------------------------------------------------- parsing


def _dates(values: pd.Series) -> pd.Series:
    """YYMMDD (optionally followed by a time, as in card.asc) in the 1900s."""
    return pd.to_datetime("19" + values.str.strip().str[:6], format="%Y%m%d", errors="coerce")


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.str.strip(), errors="coerce")


def _str_index(series: pd.Series) -> pd.Series:
    """The same mapping keyed by the id as text (how contract tables hold ids)."""
    return pd.Series(series.to_numpy(), index=series.index.astype(str))


def _id_checks(raw: pd.DataFrame, column: str) -> list[Check]:
    ids = whole_numbers(raw[column])
    return [
        Check(ids.isna(), f"{column}: not a whole number", column),
        Check(ids.notna() & ids.duplicated(keep=False), f"{column}: duplicate", column),
    ]


def _extraction_time(trans: pd.DataFrame, source: str) -> datetime:
    last = _dates(trans["date"]).max()
    if pd.isna(last):
        raise DataError(f"{source}: no transaction has a date like 930101 (YYMMDD)")
    return end_of_day(last)


def _after(cutoff: pd.Timestamp) -> str:
    return f"after the extraction time {cutoff:%Y-%m-%d}"


# ------------------------------------------------------------------------------ tables


def _districts(triage: Triage, raw: pd.DataFrame, source: str) -> pd.DataFrame:
    good = triage.quarantine(source, raw, _id_checks(raw, "A1"))
    rows = raw[good]
    # '?' marks a figure the source lacks: null, not a bad row.
    extras = {
        target: rows[column].str.strip() if target == "district" else _numbers(rows[column])
        for column, target in DISTRICT_EXTRAS.items()
    }
    frame = pd.DataFrame({"region": rows["A3"].str.strip(), **extras})
    return frame.set_index(whole_numbers(rows["A1"]).rename("district_id"))


def _clients(
    triage: Triage, raw: pd.DataFrame, source: str, districts: pd.DataFrame
) -> pd.DataFrame:
    """Clients with a readable birth number and a known district, by client id."""
    born = decode_birth_number(raw["birth_number"])
    district = whole_numbers(raw["district_id"])
    good = triage.quarantine(
        source,
        raw,
        [
            *_id_checks(raw, "client_id"),
            Check(
                born["birth_date"].isna(),
                "birth_number: not a date YYMMDD (women: month + 50)",
                "birth_number",
            ),
            Check(
                ~district.isin(districts.index), "district_id: unknown in district", "district_id"
            ),
        ],
    )
    return (
        born[good]
        .assign(district_id=district[good])
        .set_index(whole_numbers(raw["client_id"][good]))
    )


def _accounts(triage: Triage, raw: pd.DataFrame, source: str, cutoff: pd.Timestamp) -> pd.Series:
    """Opening day by account id of every sound account; later ones are set aside."""
    opened = _dates(raw["date"])
    good = triage.quarantine(
        source,
        raw,
        [*_id_checks(raw, "account_id"), Check(opened.isna(), "date: not a date YYMMDD", "date")],
    )
    triage.set_aside(source, raw, good & (opened > cutoff), f"opened {_after(cutoff)}")
    return pd.Series(opened[good].to_numpy(), index=whole_numbers(raw["account_id"][good]))


def _dispositions(
    triage: Triage,
    raw: pd.DataFrame,
    source: str,
    clients: pd.DataFrame,
    opened: pd.Series,
    late: pd.Index,
) -> pd.DataFrame:
    """Sound dispositions (of accounts inside the extract or set aside) with their account.

    An account needs exactly one OWNER: with none or two, nobody is its customer.
    """
    client, account = whole_numbers(raw["client_id"]), whole_numbers(raw["account_id"])
    kind = raw["type"].str.strip()
    checks = [
        *_id_checks(raw, "disp_id"),
        Check(~kind.isin([OWNER, USER]), f"type: not {OWNER} or {USER}", "type"),
        Check(~client.isin(clients.index), "client_id: no valid client in client", "client_id"),
        Check(~account.isin(opened.index), "account_id: no valid account in account", "account_id"),
    ]
    sound = first_reason(raw.index, checks).isna()
    owners = (sound & (kind == OWNER)).groupby(account).sum()
    single = owners.index[owners == 1]
    checks.append(
        Check(~account.isin(single), "account_id: the account has no single OWNER", "account_id")
    )
    good = triage.quarantine(source, raw, checks)
    triage.set_aside(
        source, raw, good & account.isin(late), "account opened after the extraction time"
    )
    return pd.DataFrame(
        {
            "disp_id": whole_numbers(raw["disp_id"]),
            "client_id": client,
            "account_id": account,
            "type": kind,
        }
    )[good]


def _customers(
    triage: Triage,
    raw: Mapping[str, pd.DataFrame],
    name: Mapping[str, str],
    clients: pd.DataFrame,
    districts: pd.DataFrame,
    disp: pd.DataFrame,
    opened: pd.Series,
    late: pd.Index,
    cutoff: pd.Timestamp,
) -> tuple[pd.DataFrame, Accounts]:
    """Owners of accounts inside the extract become customers, joined when their first
    account was opened; other clients are set aside, accounts nobody can own quarantined."""
    owner_of = disp[disp["type"] == OWNER].set_index("account_id")["client_id"]
    inside = owner_of[owner_of.index.isin(opened.index)]
    joined = opened.loc[inside.index].groupby(inside.to_numpy()).min()
    born_late = joined.index[clients["birth_date"].reindex(joined.index) > joined]
    client_ids = whole_numbers(raw["client"]["client_id"])
    triage.quarantine(
        name["client"],
        raw["client"],
        [
            Check(
                client_ids.isin(born_late),
                "birth_number: born after the account was opened",
                "birth_number",
            )
        ],
    )
    joined = joined.drop(born_late)
    valid = client_ids.isin(clients.index) & ~client_ids.isin(joined.index)
    valid &= ~client_ids.isin(born_late)
    late_owner = client_ids.isin(owner_of[owner_of.index.isin(late)])
    user = client_ids.isin(disp.loc[disp["type"] == USER, "client_id"])
    for mask, reason in (
        (late_owner, f"owns an account opened {_after(cutoff)}"),
        (~late_owner & user, "a user (DISPONENT) of another's account, not its owner"),
        (~late_owner & ~user, "no usable disposition (see disp)"),
    ):
        triage.set_aside(name["client"], raw["client"], valid & mask, reason)

    customer_of = inside[inside.isin(joined.index)]
    account_ids = whole_numbers(raw["account"]["account_id"])
    triage.quarantine(
        name["account"],
        raw["account"],
        [
            Check(
                account_ids.isin(opened.index.difference(owner_of.index)),
                "no single OWNER in disp",
                "account_id",
            ),
            Check(
                account_ids.isin(inside.index.difference(customer_of.index)),
                "its owner is quarantined in client",
                "account_id",
            ),
        ],
    )
    rows = clients.loc[joined.index]
    region = districts.reindex(rows["district_id"]).reset_index(drop=True)
    customers = pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": rows.index.astype(str),
                    "birth_date": rows["birth_date"].to_numpy(),
                    "joined_at": joined.to_numpy(),
                    "gender": rows["gender"].to_numpy(),
                }
            ),
            region,
        ],
        axis=1,
    )
    accounts = Accounts(
        customer_of=customer_of.astype(str),
        opened=opened.loc[customer_of.index],
        late=late,
    )
    return customers, accounts


def _transactions(
    triage: Triage, raw: pd.DataFrame, source: str, accounts: Accounts, orders: pd.DataFrame
) -> pd.DataFrame:
    """Contract transactions, plus `source_code` (type/operation/k_symbol as in the file)
    and what dating orders and month-end balances need (id, balance, partner)."""
    account = whole_numbers(raw["account_id"])
    day = _dates(raw["date"])
    amount, balance = _numbers(raw["amount"]), _numbers(raw["balance"])
    kind, operation, symbol = (raw[c].str.strip() for c in ("type", "operation", "k_symbol"))
    late = accounts.opened_late(account)
    good = triage.quarantine(
        source,
        raw,
        [
            *_id_checks(raw, "trans_id"),
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


def _account_holdings(accounts: Accounts, day_end: pd.DataFrame) -> pd.DataFrame:
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


def _card_holdings(
    triage: Triage,
    raw: pd.DataFrame,
    source: str,
    disp: pd.DataFrame,
    accounts: Accounts,
    cutoff: pd.Timestamp,
) -> pd.DataFrame:
    """Cards belong to the account's owner, whichever disposition they were issued to."""
    issued = _dates(raw["issued"])
    kind = raw["type"].str.strip()
    account = whole_numbers(raw["disp_id"]).map(disp.set_index("disp_id")["account_id"])
    late = accounts.opened_late(account)
    good = triage.quarantine(
        source,
        raw,
        [
            *_id_checks(raw, "card_id"),
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


def _loan_holdings(
    triage: Triage, raw: pd.DataFrame, source: str, accounts: Accounts, cutoff: pd.Timestamp
) -> pd.DataFrame:
    """A loan is held from the day it is granted to the end of its term (`duration`
    months); an end after the extraction is a plan, which loading reads as still open."""
    granted = _dates(raw["date"])
    months = whole_numbers(raw["duration"])
    amount = _numbers(raw["amount"])
    account = whole_numbers(raw["account_id"])
    late = accounts.opened_late(account)
    good = triage.quarantine(
        source,
        raw,
        [
            *_id_checks(raw, "loan_id"),
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


def _order_holdings(
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
            *_id_checks(raw, "order_id"),
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
    triage.set_aside(source, raw, good & ~late_account & starts_late, f"{verb} {_after(cutoff)}")
    return good & ~late_account & ~starts_late


def _merge_same_key_holdings(holdings: pd.DataFrame) -> pd.DataFrame:
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
