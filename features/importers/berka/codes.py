"""The Berka codes and what the importer makes of them: a declaration, no logic.

Which columns are read from each file, the Czech transaction codes in English (`TYPES`,
`OPERATIONS`, `K_SYMBOLS`), the products cards, loans and standing orders become
(`CATALOGUE`), and the tolerance of the running balance. docs/data-import.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.importers.extract import Product

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
