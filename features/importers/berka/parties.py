"""The parties: districts, clients, accounts and dispositions, and the customers they make.

Each `import_*` function checks one source file's rows, quarantines the bad ones and sets
aside those of accounts opened after the extraction time (both through the `Triage`), and
returns what the next step needs. Their order matters: clients need districts,
dispositions need clients and accounts, customers need all four.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.importers.berka.codes import DISTRICT_EXTRAS, OWNER, USER
from features.importers.berka.files import (
    after_extraction,
    id_checks,
    parse_dates,
    parse_numbers,
)
from features.importers.extract import Check, Triage, first_reason, whole_numbers


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


def import_districts(triage: Triage, raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Region and the kept district figures (`DISTRICT_EXTRAS`), by district id."""
    good = triage.quarantine(source, raw, id_checks(raw, "A1"))
    rows = raw[good]
    # '?' marks a figure the source lacks: null, not a bad row.
    extras = {
        target: rows[column].str.strip() if target == "district" else parse_numbers(rows[column])
        for column, target in DISTRICT_EXTRAS.items()
    }
    frame = pd.DataFrame({"region": rows["A3"].str.strip(), **extras})
    return frame.set_index(whole_numbers(rows["A1"]).rename("district_id"))


def import_clients(
    triage: Triage, raw: pd.DataFrame, source: str, districts: pd.DataFrame
) -> pd.DataFrame:
    """Clients with a readable birth number and a known district, by client id."""
    born = decode_birth_number(raw["birth_number"])
    district = whole_numbers(raw["district_id"])
    good = triage.quarantine(
        source,
        raw,
        [
            *id_checks(raw, "client_id"),
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


def import_accounts(
    triage: Triage, raw: pd.DataFrame, source: str, cutoff: pd.Timestamp
) -> pd.Series:
    """Opening day by account id of every sound account; later ones are set aside."""
    opened = parse_dates(raw["date"])
    good = triage.quarantine(
        source,
        raw,
        [*id_checks(raw, "account_id"), Check(opened.isna(), "date: not a date YYMMDD", "date")],
    )
    triage.set_aside(source, raw, good & (opened > cutoff), f"opened {after_extraction(cutoff)}")
    return pd.Series(opened[good].to_numpy(), index=whole_numbers(raw["account_id"][good]))


def import_dispositions(
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
        *id_checks(raw, "disp_id"),
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


def import_customers(
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
    account was opened; other clients are set aside, accounts nobody can own quarantined.

    Args:
        triage: where rows not imported are listed.
        raw, name: the source files' rows and names, by table.
        clients: sound clients (`import_clients`).
        districts: sound districts (`import_districts`).
        disp: sound dispositions (`import_dispositions`).
        opened: opening day of the sound accounts opened by the extraction time.
        late: ids of the sound accounts opened after it.
        cutoff: the extraction day.

    Returns:
        The customers table, and where each imported account stands.
    """
    owner_of = disp[disp["type"] == OWNER].set_index("account_id")["client_id"]
    inside = owner_of[owner_of.index.isin(opened.index)]
    joined = opened.loc[inside.index].groupby(inside.to_numpy()).min()
    born_late = joined.index[clients["birth_date"].reindex(joined.index) > joined]
    joined = joined.drop(born_late)
    _triage_clients(
        triage,
        raw["client"],
        name["client"],
        sound=clients.index,
        customers=joined.index,
        born_late=born_late,
        late_owners=owner_of[owner_of.index.isin(late)],
        users=disp.loc[disp["type"] == USER, "client_id"],
        cutoff=cutoff,
    )
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
    accounts = Accounts(
        customer_of=customer_of.astype(str),
        opened=opened.loc[customer_of.index],
        late=late,
    )
    return _customer_rows(clients.loc[joined.index], joined, districts), accounts


def _triage_clients(
    triage: Triage,
    raw: pd.DataFrame,
    source: str,
    *,
    sound: pd.Index,
    customers: pd.Index,
    born_late: pd.Index,
    late_owners: pd.Series,
    users: pd.Series,
    cutoff: pd.Timestamp,
) -> None:
    """Quarantine owners born after their account was opened; set aside the sound clients
    who are not customers, with the reason.

    Args:
        sound, customers, born_late: client ids of the sound clients, of those who become
            customers, and of owners born after their first account was opened.
        late_owners, users: client ids of owners of accounts opened after the extraction
            time, and of users (DISPONENT) of an account.
    """
    client_ids = whole_numbers(raw["client_id"])
    triage.quarantine(
        source,
        raw,
        [
            Check(
                client_ids.isin(born_late),
                "birth_number: born after the account was opened",
                "birth_number",
            )
        ],
    )
    valid = client_ids.isin(sound) & ~client_ids.isin(customers)
    valid &= ~client_ids.isin(born_late)
    late_owner = client_ids.isin(late_owners)
    user = client_ids.isin(users)
    for mask, reason in (
        (late_owner, f"owns an account opened {after_extraction(cutoff)}"),
        (~late_owner & user, "a user (DISPONENT) of another's account, not its owner"),
        (~late_owner & ~user, "no usable disposition (see disp)"),
    ):
        triage.set_aside(source, raw, valid & mask, reason)


def _customer_rows(rows: pd.DataFrame, joined: pd.Series, districts: pd.DataFrame) -> pd.DataFrame:
    """The customers table: the clients' birth and gender, the day they joined, and their
    district's region and figures."""
    region = districts.reindex(rows["district_id"]).reset_index(drop=True)
    return pd.concat(
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
