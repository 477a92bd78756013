"""`import_berka`: the Berka files → one extract, each table in the order its inputs allow."""

from __future__ import annotations

import pandas as pd

from features.importers.berka.codes import CATALOGUE, SOURCE
from features.importers.berka.files import BerkaFiles, extraction_time
from features.importers.berka.holdings import (
    current_account_holdings,
    import_card_holdings,
    import_loan_holdings,
    import_order_holdings,
    merge_same_key_holdings,
)
from features.importers.berka.ledger import (
    day_end_balances,
    import_transactions,
    month_end_balances,
)
from features.importers.berka.parties import (
    import_accounts,
    import_clients,
    import_customers,
    import_dispositions,
    import_districts,
)
from features.importers.extract import ImportedExtract, Triage, assemble
from features.schema import TRANSACTIONS


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
    extracted_at = extraction_time(raw["trans"], name["trans"])
    cutoff = pd.Timestamp(extracted_at.date())

    districts = import_districts(triage, raw["district"], name["district"])
    clients = import_clients(triage, raw["client"], name["client"], districts)
    opened = import_accounts(triage, raw["account"], name["account"], cutoff)
    late = opened.index[opened > cutoff]
    disp = import_dispositions(triage, raw["disp"], name["disp"], clients, opened, late)
    customers, accounts = import_customers(
        triage, raw, name, clients, districts, disp, opened.drop(late), late, cutoff
    )
    transactions = import_transactions(triage, raw["trans"], name["trans"], accounts, raw["order"])
    day_end = day_end_balances(transactions)
    holdings = pd.concat(
        [
            current_account_holdings(accounts, day_end),
            import_card_holdings(triage, raw["card"], name["card"], disp, accounts, cutoff),
            import_loan_holdings(triage, raw["loan"], name["loan"], accounts, cutoff),
            import_order_holdings(triage, raw["order"], name["order"], accounts, transactions),
        ],
        ignore_index=True,
    )
    tables = {
        "customers": customers,
        "holdings": merge_same_key_holdings(holdings),
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
