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

Modules: `codes` (the code tables and the catalogue, a declaration), `files` (reading the
files, parsing their fields), `parties` (districts, clients, accounts, dispositions →
customers), `ledger` (transactions and balances), `holdings` (current account, cards,
loans, standing orders) and `importer` (`import_berka`, which runs them in order).
"""

from features.importers.berka.codes import (
    CATALOGUE,
    K_SYMBOLS,
    OPERATIONS,
    SOURCE,
    TYPES,
    Operation,
    Symbol,
)
from features.importers.berka.files import BerkaFiles, read_berka
from features.importers.berka.importer import import_berka
from features.importers.berka.ledger import (
    day_end_balances,
    month_end_balances,
    translate_transactions,
)
from features.importers.berka.parties import Accounts, decode_birth_number

__all__ = [
    "CATALOGUE",
    "K_SYMBOLS",
    "OPERATIONS",
    "SOURCE",
    "TYPES",
    "Accounts",
    "BerkaFiles",
    "Operation",
    "Symbol",
    "day_end_balances",
    "decode_birth_number",
    "import_berka",
    "month_end_balances",
    "read_berka",
    "translate_transactions",
]
