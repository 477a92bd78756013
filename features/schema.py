"""The bank data contract: the raw tables a bank provides, declared once.

Validation (`features.validation`), the data-contract doc (`docs/data-contract.md`), the
synthetic bank and the importers all read this declaration; nothing else names raw columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pyarrow as pa

from common.names import TASK_GROUPS

# Column dtypes a contract column may declare (Ibis type names), and their Arrow types
# (timestamps are naive UTC, microseconds).
ARROW_TYPES = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}
DTYPES = tuple(ARROW_TYPES)

TRANSACTION_CHANNELS = ("branch", "atm", "online", "mobile", "pos", "system")
DIRECTIONS = ("credit", "debit")
COUNTERPARTY_TYPES = (
    "salary",
    "pension",
    "transfer_in",
    "transfer_out_same_bank",
    "transfer_out_other_bank",
    "merchant",
    "cash",
    "bill",
    "loan_payment",
    "fee",
    "interest",
    "other",
)
INTERACTION_KINDS = (
    "complaint",
    "service_request",
    "callback",
    "satisfaction_survey",
    "digital_login",
    "branch_visit",
)
INTERACTION_OUTCOMES = ("reached", "not_reached", "resolved", "unresolved", "declined", "accepted")
CONTACT_CHANNELS = ("phone", "email", "in_person", "app")
GENDERS = ("F", "M", "X")
INCOME_BANDS = ("low", "lower_middle", "middle", "upper_middle", "high")
SEGMENTS = ("mass", "affluent", "private", "small_business")
PRODUCT_FAMILIES = (
    "current_account",
    "savings",
    "time_deposit",
    "credit_card",
    "personal_loan",
    "mortgage",
    "funds",
    "insurance",
    "pension",
    "other",
)
TIERS = ("core", "important", "general", "new", "churned")


@dataclass(frozen=True)
class Column:
    """One declared column of a raw table."""

    name: str
    dtype: str
    description: str
    required: bool = False
    nullable: bool = True
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    references: str | None = None  # "table.column" this column must match
    # Null carries meaning here (still open, not applicable to this kind of row), so the
    # column is not held to the completeness threshold.
    sparse: bool = False
    # A date after the extraction time is a plan, not a fact (a deposit's maturity): read as
    # null (still open), not quarantined.
    scheduled: bool = False
    # A date agreed in advance and known from the row's own start (the end of a fixed-rate
    # period): one after the extraction time is a fact about the future, kept as it is.
    agreed_ahead: bool = False

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"column {self.name}: dtype {self.dtype!r} not in {DTYPES}")

    @property
    def is_temporal(self) -> bool:
        return self.dtype in ("date", "timestamp")


@dataclass(frozen=True)
class Table:
    """One declared raw table."""

    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    required: bool = True
    # The column that places a row in time; features as of D only see rows with it before D.
    event_time: str | None = None
    # (earlier, later) column pairs: a row whose later column precedes the earlier is bad.
    time_order: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name} has no column {name}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(col.name for col in self.columns)


# Customer attributes a bank changes over time; `customer_attributes` records when.
CHANGEABLE_ATTRIBUTES = (
    "segment",
    "income_band",
    "risk_appetite",
    "preferred_channel",
    "do_not_contact",
    "region",
)

# The changeable attributes' columns, shared by `customers` (values at extraction) and
# `customer_attributes` (their history).
_ATTRIBUTE_COLUMNS = {
    col.name: col
    for col in (
        Column("segment", "string", "Bank's commercial segment.", allowed=SEGMENTS),
        Column("income_band", "string", "Declared income band.", allowed=INCOME_BANDS),
        Column(
            "risk_appetite",
            "int64",
            "Risk appetite from the suitability questionnaire, 1 (cautious) to 5 (speculative).",
            min_value=1,
            max_value=5,
        ),
        Column(
            "preferred_channel",
            "string",
            "Channel the customer wants to be contacted on.",
            allowed=CONTACT_CHANNELS,
        ),
        Column("do_not_contact", "boolean", "The customer refused marketing contact."),
        Column("region", "string", "Home region or district name."),
    )
}

CUSTOMERS = Table(
    name="customers",
    description="One row per customer the bank has ever had.",
    primary_key=("customer_id",),
    event_time="joined_at",
    time_order=(("birth_date", "joined_at"),),
    columns=(
        Column(
            "customer_id", "string", "Bank's customer identifier.", required=True, nullable=False
        ),
        Column(
            "birth_date",
            "date",
            "Date of birth (only age in years reaches models).",
            required=True,
            nullable=False,
        ),
        Column(
            "joined_at",
            "date",
            "Date the customer relationship began.",
            required=True,
            nullable=False,
        ),
        Column("gender", "string", "Self-declared gender.", allowed=GENDERS),
        _ATTRIBUTE_COLUMNS["region"],
        _ATTRIBUTE_COLUMNS["income_band"],
        _ATTRIBUTE_COLUMNS["risk_appetite"],
        _ATTRIBUTE_COLUMNS["preferred_channel"],
        _ATTRIBUTE_COLUMNS["do_not_contact"],
        replace(
            _ATTRIBUTE_COLUMNS["segment"],
            description="Bank's commercial segment at extraction (not churn status).",
        ),
    ),
    notes=(
        "Region, income band, risk appetite, preferred channel, do-not-contact and segment "
        "hold the values at extraction. Where the bank records when they change, give the "
        "history in `customer_attributes`: features as of D then read the version in force "
        "before D. Without it, features read these values at every date, and the feature "
        "build and the training run say so (attributes as of extraction).",
        "Do not export a column that the bank updates when a customer leaves (e.g. a "
        "'closed' segment): it would leak the label into features.",
    ),
)

PRODUCTS = Table(
    name="products",
    description="The bank's product catalogue.",
    primary_key=("product_id",),
    columns=(
        Column("product_id", "string", "Product identifier.", required=True, nullable=False),
        Column(
            "family",
            "string",
            "Product family.",
            required=True,
            nullable=False,
            allowed=PRODUCT_FAMILIES,
        ),
        Column(
            "risk_level",
            "int64",
            "Product risk, 1 (lowest) to 5; an offer's risk must "
            "not exceed the customer's risk appetite.",
            required=True,
            nullable=False,
            min_value=1,
            max_value=5,
        ),
        Column("name", "string", "Display name."),
        Column(
            "min_age", "int64", "Minimum customer age for the product.", min_value=0, max_value=120
        ),
        Column("margin", "float64", "Value of one sale to the bank (currency units).", min_value=0),
    ),
)

HOLDINGS = Table(
    name="holdings",
    description="Which customer held which product when (accounts, cards, loans, policies).",
    primary_key=("customer_id", "product_id", "opened_at"),
    event_time="opened_at",
    time_order=(("opened_at", "closed_at"),),
    columns=(
        Column(
            "customer_id",
            "string",
            "Holder.",
            required=True,
            nullable=False,
            references="customers.customer_id",
        ),
        Column(
            "product_id",
            "string",
            "Product held.",
            required=True,
            nullable=False,
            references="products.product_id",
        ),
        Column(
            "opened_at", "timestamp", "When the holding was opened.", required=True, nullable=False
        ),
        Column(
            "closed_at",
            "timestamp",
            "When it was closed; null while open.",
            required=True,
            sparse=True,
            scheduled=True,
        ),
        Column("account_id", "string", "Bank's account, card or contract number."),
        Column(
            "balance_or_limit",
            "float64",
            "Balance or credit limit at extraction. Not a "
            "point-in-time value, so no feature uses it; month-end balances do.",
        ),
        Column(
            "fixed_until",
            "date",
            "End of the fixed-rate (or early-repayment-charge) period agreed when the "
            "holding was opened; null where none. Known from opening, so a date after the "
            "extraction is kept.",
            sparse=True,
            agreed_ahead=True,
        ),
    ),
)

TRANSACTIONS = Table(
    name="transactions",
    description="Money movements on the customer's accounts.",
    event_time="ts",
    columns=(
        Column(
            "customer_id",
            "string",
            "Customer whose account moved.",
            required=True,
            nullable=False,
            references="customers.customer_id",
        ),
        Column("ts", "timestamp", "Booking time.", required=True, nullable=False),
        Column(
            "amount",
            "float64",
            "Absolute amount (currency units, finite, >= 0).",
            required=True,
            nullable=False,
            min_value=0,
        ),
        Column(
            "direction", "string", "credit (money in) or debit (money out).", allowed=DIRECTIONS
        ),
        Column(
            "channel",
            "string",
            "Where the transaction was made; 'system' for "
            "bank-initiated bookings (salary, fees, interest).",
            allowed=TRANSACTION_CHANNELS,
        ),
        Column("category", "string", "Spending category (free text)."),
        Column(
            "counterparty_type", "string", "What kind of counterparty.", allowed=COUNTERPARTY_TYPES
        ),
        Column("account_id", "string", "Account booked on."),
    ),
)

INTERACTIONS = Table(
    name="interactions",
    description="Contacts between customer and bank: complaints, service, callbacks, "
    "surveys, digital logins, branch visits.",
    event_time="ts",
    time_order=(("ts", "resolved_at"),),
    columns=(
        Column(
            "customer_id",
            "string",
            "Customer.",
            required=True,
            nullable=False,
            references="customers.customer_id",
        ),
        Column("ts", "timestamp", "When the interaction started.", required=True, nullable=False),
        Column(
            "kind",
            "string",
            "Kind of interaction.",
            required=True,
            nullable=False,
            allowed=INTERACTION_KINDS,
        ),
        Column(
            "severity",
            "int64",
            "Complaint severity, 1 (minor) to 3 (major).",
            min_value=1,
            max_value=3,
            sparse=True,
        ),
        Column(
            "resolved_at",
            "timestamp",
            "When a complaint or request was resolved; null while open.",
            sparse=True,
        ),
        Column(
            "satisfaction",
            "int64",
            "Satisfaction score 1 (bad) to 5 (excellent).",
            min_value=1,
            max_value=5,
            sparse=True,
        ),
        Column(
            "outcome",
            "string",
            "Outcome of a callback or request.",
            allowed=INTERACTION_OUTCOMES,
            sparse=True,
        ),
        Column(
            "channel", "string", "Channel of the contact.", allowed=CONTACT_CHANNELS, sparse=True
        ),
    ),
)

BALANCES = Table(
    name="balances",
    description="Month-end balance per customer and product (deposits, savings, "
    "investments, loans outstanding). Optional: without it, balance features are null.",
    primary_key=("customer_id", "product_id", "snapshot_date"),
    event_time="snapshot_date",
    required=False,
    columns=(
        Column(
            "customer_id",
            "string",
            "Customer.",
            required=True,
            nullable=False,
            references="customers.customer_id",
        ),
        Column(
            "product_id",
            "string",
            "Product.",
            required=True,
            nullable=False,
            references="products.product_id",
        ),
        Column(
            "snapshot_date",
            "date",
            "Date the balance was taken (end of day).",
            required=True,
            nullable=False,
        ),
        Column(
            "balance",
            "float64",
            "Balance (assets positive, debt as a positive amount on credit products).",
            required=True,
            nullable=False,
        ),
    ),
    notes=(
        "A snapshot dated D is known from the day after D, so features as of D use "
        "snapshots dated before D.",
    ),
)

CUSTOMER_ATTRIBUTES = Table(
    name="customer_attributes",
    description="History of the customer attributes a bank changes (segment, income band, "
    "risk appetite, preferred channel, do-not-contact, region): one row per version, in "
    "force from `valid_from` until `valid_to`. Optional: without it, features read the "
    "attributes in `customers` as they stood at extraction, and say so.",
    primary_key=("customer_id", "valid_from"),
    event_time="valid_from",
    required=False,
    time_order=(("valid_from", "valid_to"),),
    columns=(
        Column(
            "customer_id",
            "string",
            "Customer.",
            required=True,
            nullable=False,
            references="customers.customer_id",
        ),
        Column(
            "valid_from",
            "timestamp",
            "When this version came into force.",
            required=True,
            nullable=False,
        ),
        Column(
            "valid_to",
            "timestamp",
            "When the next version replaced it; null while it is in force.",
            sparse=True,
        ),
        *(_ATTRIBUTE_COLUMNS[name] for name in CHANGEABLE_ATTRIBUTES),
    ),
    notes=(
        "Each row carries every attribute in force over [valid_from, valid_to), not only the "
        "one that changed. Features as of D read the version in force just before D: "
        "`valid_from` before D and `valid_to` null or on or after D. Where versions overlap, "
        "the one with the latest `valid_from` wins (a version the bank forgot to close is "
        "superseded, not quarantined).",
        "The first version of a customer should start when they joined. Where no version is "
        "in force just before D (before a customer's first version, or in a gap between "
        "versions), features fall back to `customers`, the values at extraction, and the "
        "feature build reports the share of rows that did.",
    ),
)

MARKET_RATES = Table(
    name="market_rates",
    description="Interest rates the bank records about its market: the best savings rate "
    "competitors offer and the bank's own, as published. Optional: without it, rate "
    "features are null.",
    primary_key=("published_at",),
    event_time="published_at",
    required=False,
    columns=(
        Column(
            "published_at",
            "timestamp",
            "When the rates were published (known from then on).",
            required=True,
            nullable=False,
        ),
        Column(
            "market_savings_rate",
            "float64",
            "Best instant-access savings rate on the market, % a year.",
            min_value=-5,
            max_value=50,
        ),
        Column(
            "bank_savings_rate",
            "float64",
            "The bank's own instant-access savings rate, % a year.",
            min_value=-5,
            max_value=50,
        ),
    ),
)

CONTACT_GROUPS = TASK_GROUPS
CONTACT_OUTCOMES = ("reached", "not_reached", "declined", "accepted_offer", "issue_resolved")
# Every outcome but `not_reached` means the customer was spoken to.
REACHED_OUTCOMES = tuple(outcome for outcome in CONTACT_OUTCOMES if outcome != "not_reached")

CAMPAIGN_CONTACTS = Table(
    name="campaign_contacts",
    description="The CRM's record of each campaign task Retain handed over (and of each "
    "held-out customer): whether and when the contact happened, and how it went. Loaded "
    "with `retain outcomes load FILE`; read by `retain evaluate campaign`.",
    primary_key=("task_id",),
    event_time="assigned_at",
    required=False,
    time_order=(("assigned_at", "contacted_at"),),
    columns=(
        Column(
            "campaign_id", "string", "Campaign the task belongs to.", required=True, nullable=False
        ),
        Column(
            "task_id",
            "string",
            "Retain's task id (the outbox's idempotency key; for held-out customers the id "
            "the task would have had).",
            required=True,
            nullable=False,
        ),
        Column(
            "customer_id",
            "string",
            "Customer.",
            required=True,
            nullable=False,
            references="customers.customer_id",
        ),
        Column(
            "group",
            "string",
            "Random assignment: contacted (`treatment`) or deliberately not (`holdout`); "
            "`owed` for a call the customer is owed (never held out, outside the experiment).",
            required=True,
            nullable=False,
            allowed=CONTACT_GROUPS,
        ),
        Column("action", "string", "Action of the task (e.g. retention_callback).", required=True),
        Column("product_id", "string", "Product offered, if any.", sparse=True),
        Column(
            "assigned_at", "timestamp", "When the task was assigned.", required=True, nullable=False
        ),
        Column(
            "due_at",
            "timestamp",
            "When the contact was due (the SLA). Information only: the evaluation takes "
            "the due time from Retain's own list; one after the export reads as null.",
            sparse=True,
            scheduled=True,
        ),
        Column(
            "contacted_at",
            "timestamp",
            "When the contact was made (reached or not); null if never attempted.",
            sparse=True,
        ),
        Column(
            "channel", "string", "Channel of the contact.", allowed=CONTACT_CHANNELS, sparse=True
        ),
        Column(
            "outcome",
            "string",
            "How the contact went; null if never attempted.",
            allowed=CONTACT_OUTCOMES,
            sparse=True,
        ),
        Column(
            "satisfaction",
            "int64",
            "Satisfaction score the customer gave after the contact, 1 to 5.",
            min_value=1,
            max_value=5,
            sparse=True,
        ),
        Column(
            "notes",
            "string",
            "Free text from the caller. Never used by models nor written to logs.",
            sparse=True,
        ),
    ),
    notes=(
        "Holdout rows carry no contact: a holdout row with a contact is kept, and the "
        "evaluation counts it in the holdout (intention to treat).",
    ),
)

TABLES: tuple[Table, ...] = (
    CUSTOMERS,
    PRODUCTS,
    HOLDINGS,
    TRANSACTIONS,
    INTERACTIONS,
    BALANCES,
    CUSTOMER_ATTRIBUTES,
    MARKET_RATES,
)
# Tables that come back from the CRM after a campaign, not with the bank's extract.
OUTCOME_TABLES: tuple[Table, ...] = (CAMPAIGN_CONTACTS,)
TABLES_BY_NAME = {table.name: table for table in TABLES + OUTCOME_TABLES}

# The extract's metadata file beside the tables, e.g. {"extracted_at": "2024-12-31T23:59:59"}.
MANIFEST_FILE = "manifest.json"
