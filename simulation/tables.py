"""The synthetic bank's rows as Arrow tables: the contract's tables and the `_truth/` files.

Rows of the simulation carry indices (customer, product, category); these functions turn
them into the contract's identifiers and strings, built by Arrow without a Python loop.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.schema import (
    ARROW_TYPES,
    BALANCES,
    CHANGEABLE_ATTRIBUTES,
    CONTACT_CHANNELS,
    COUNTERPARTY_TYPES,
    CUSTOMER_ATTRIBUTES,
    CUSTOMERS,
    DIRECTIONS,
    GENDERS,
    HOLDINGS,
    INCOME_BANDS,
    INTERACTION_KINDS,
    INTERACTION_OUTCOMES,
    INTERACTIONS,
    MARKET_RATES,
    PRODUCT_FAMILIES,
    PRODUCTS,
    SEGMENTS,
    TRANSACTION_CHANNELS,
    TRANSACTIONS,
    Table,
)
from simulation.attributes import AttributeHistory
from simulation.calls import RESPONSES, CallRecord
from simulation.catalogue import CATALOGUE, CATEGORIES, REGIONS
from simulation.economy import Economy
from simulation.holdings import HoldingRows
from simulation.state import BANK_CLOSURE, DEATH, NEVER_DECIDED, BankState, Population
from simulation.timeline import NULL_TS, Calendar
from simulation.truth import MonthTruth

# `_truth/departures.parquet`: why a customer closed everything.
CLOSURE_CAUSES = {0: "decided", BANK_CLOSURE: "bank_closure", DEATH: "death"}

CUSTOMER_ID = CUSTOMERS.primary_key[0]
ACCOUNT_DIGITS = 10
PRODUCT_IDS = pa.array([spec.product_id for spec in CATALOGUE])


def to_arrow(table: Table, columns: Mapping[str, pa.Array]) -> pa.Table:
    """Arrange columns as the contract declares them: names, order and dtypes.

    Raises:
        ValueError: If the columns are not exactly the contract table's.
    """
    declared = table.column_names
    if set(columns) != set(declared):
        raise ValueError(
            f"{table.name}: columns {sorted(columns)} do not match contract {list(declared)}"
        )
    schema = pa.schema([pa.field(c.name, ARROW_TYPES[c.dtype]) for c in table.columns])
    return pa.Table.from_arrays([columns[name] for name in declared], schema=schema)


def id_strings(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Zero-padded identifiers such as C0000001, built by Arrow without a Python loop."""
    digits = pc.utf8_lpad(
        pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width=width, padding="0"
    )
    return pc.binary_join_element_wise(prefix, digits, "")


def account_ids(account_no: np.ndarray, current_account_ids: pa.Array) -> pa.Array:
    """Account identifiers for a column of account numbers.

    Current accounts are numbers 1..n_customers and their identifiers are formatted once per
    run; the other accounts in the column are formatted once each, not once per row.
    """
    n_customers = len(current_account_ids)
    other = account_no > n_customers
    unique_other, position = np.unique(account_no[other], return_inverse=True)
    index = account_no - 1
    index[other] = n_customers + position
    dictionary = pa.concat_arrays(
        [current_account_ids, id_strings("A", unique_other, width=ACCOUNT_DIGITS)]
    )
    return dictionary.take(pa.array(index))


def date_array(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32())


def attribute_columns(values: Mapping[str, np.ndarray]) -> dict[str, pa.Array]:
    """The changeable attributes as the contract's columns, from their indices."""
    return {
        "segment": pa.array(SEGMENTS).take(pa.array(values["segment"])),
        "income_band": pa.array(INCOME_BANDS).take(pa.array(values["income_band"])),
        "risk_appetite": pa.array(np.asarray(values["risk_appetite"], dtype=np.int64)),
        "preferred_channel": pa.array(CONTACT_CHANNELS).take(pa.array(values["preferred_channel"])),
        "do_not_contact": pa.array(np.asarray(values["do_not_contact"], dtype=bool)),
        "region": pa.array(REGIONS).take(pa.array(values["region"])),
    }


def customers_table(population: Population, state: BankState, customer_ids: pa.Array) -> pa.Table:
    """Customers, with their attributes as they stand at extraction."""
    profile = state.profile
    values = {name: getattr(profile, name) for name in CHANGEABLE_ATTRIBUTES}
    return to_arrow(
        CUSTOMERS,
        {
            "customer_id": customer_ids,
            "birth_date": date_array(population.birth_day),
            "joined_at": date_array(population.joined_day),
            "gender": pa.array(GENDERS).take(pa.array(population.gender)),
            **attribute_columns(values),
        },
    )


def customer_attributes_table(
    history: AttributeHistory, population: Population, customer_ids: pa.Array
) -> pa.Table:
    """Every version of the changeable attributes, with its validity."""
    customer, valid_from, values, valid_to = history.versions(population)
    return to_arrow(
        CUSTOMER_ATTRIBUTES,
        {
            "customer_id": customer_ids.take(pa.array(customer)),
            "valid_from": pa.array(valid_from, type=pa.timestamp("us")),
            "valid_to": pa.array(valid_to, type=pa.timestamp("us"), mask=valid_to == NULL_TS),
            **attribute_columns(values),
        },
    )


def market_rates_table(economy: Economy, calendar: Calendar) -> pa.Table:
    """The market's and the bank's savings rates, published at each simulated month's start."""
    months = calendar.months
    return to_arrow(
        MARKET_RATES,
        {
            "published_at": pa.array(calendar.month_start_us[:months], type=pa.timestamp("us")),
            "market_savings_rate": pa.array(economy.market_rate[:months]),
            "bank_savings_rate": pa.array(economy.bank_rate[:months]),
        },
    )


def products_table() -> pa.Table:
    """The catalogue as the contract's products table.

    Raises:
        ValueError: If a product's family is not one the contract knows.
    """
    unknown = [spec.family for spec in CATALOGUE if spec.family not in PRODUCT_FAMILIES]
    if unknown:
        raise ValueError(f"catalogue families {unknown} not in the contract's PRODUCT_FAMILIES")
    return to_arrow(
        PRODUCTS,
        {
            "product_id": pa.array([spec.product_id for spec in CATALOGUE]),
            "family": pa.array([spec.family for spec in CATALOGUE]),
            "risk_level": pa.array([spec.risk_level for spec in CATALOGUE], type=pa.int64()),
            "name": pa.array([spec.name for spec in CATALOGUE]),
            "min_age": pa.array([spec.min_age for spec in CATALOGUE], type=pa.int64()),
            "margin": pa.array([spec.margin for spec in CATALOGUE], type=pa.float64()),
        },
    )


def holdings_table(
    holdings: HoldingRows, customer_ids: pa.Array, current_account_ids: pa.Array
) -> pa.Table:
    """Holdings, closed or still open, as the contract's holdings table."""
    customer = holdings.customer
    closed = (
        pa.nulls(customer.size, pa.timestamp("us"))
        if holdings.closed_us is None
        else pa.array(holdings.closed_us, type=pa.timestamp("us"))
    )
    return to_arrow(
        HOLDINGS,
        {
            "customer_id": customer_ids.take(pa.array(customer)),
            "product_id": PRODUCT_IDS.take(pa.array(holdings.product)),
            "opened_at": pa.array(holdings.opened_us, type=pa.timestamp("us")),
            "closed_at": closed,
            "account_id": account_ids(holdings.account_no, current_account_ids),
            "balance_or_limit": pa.array(holdings.balance_or_limit, type=pa.float64()),
            "fixed_until": pa.array(
                holdings.fixed_until_day.astype(np.int32),
                type=pa.date32(),
                mask=holdings.fixed_until_day < 0,
            ),
        },
    )


def transactions_table(
    columns: list[np.ndarray], customer_ids: pa.Array, current_account_ids: pa.Array
) -> pa.Table:
    """A month's ledger (`ledger.Ledger.columns`) as the contract's transactions table."""
    customer, ts, amount, direction, channel, category, counterparty, account = columns
    return to_arrow(
        TRANSACTIONS,
        {
            "customer_id": customer_ids.take(pa.array(customer)),
            "ts": pa.array(ts, type=pa.timestamp("us")),
            "amount": pa.array(amount),
            "direction": pa.array(DIRECTIONS).take(pa.array(direction)),
            "channel": pa.array(TRANSACTION_CHANNELS).take(pa.array(channel)),
            "category": pa.array(CATEGORIES).take(pa.array(category)),
            "counterparty_type": pa.array(COUNTERPARTY_TYPES).take(pa.array(counterparty)),
            "account_id": account_ids(account, current_account_ids),
        },
    )


def interactions_table(columns: list[np.ndarray], customer_ids: pa.Array) -> pa.Table:
    """A month's contacts (`interactions.InteractionLog.columns`) as the contract's table."""
    customer, ts, kind, severity, resolved, satisfaction, outcome, channel = columns
    return to_arrow(
        INTERACTIONS,
        {
            "customer_id": customer_ids.take(pa.array(customer)),
            "ts": pa.array(ts, type=pa.timestamp("us")),
            "kind": pa.array(INTERACTION_KINDS).take(pa.array(kind)),
            "severity": pa.array(severity.astype(np.int64), mask=severity == 0),
            "resolved_at": pa.array(resolved, type=pa.timestamp("us"), mask=resolved == NULL_TS),
            "satisfaction": pa.array(satisfaction.astype(np.int64), mask=satisfaction == 0),
            "outcome": pa.array(INTERACTION_OUTCOMES).take(pa.array(outcome, mask=outcome < 0)),
            "channel": pa.array(CONTACT_CHANNELS).take(pa.array(channel, mask=channel < 0)),
        },
    )


def balances_table(
    state: BankState, products: tuple[int, ...], last_day: int, customer_ids: pa.Array
) -> pa.Table:
    """The balance of every open holding of `products` on a month's last day."""
    snapshot = np.zeros(state.held.shape, dtype=bool)
    snapshot[:, products] = state.held[:, products]
    customer, product = np.nonzero(snapshot)
    return to_arrow(
        BALANCES,
        {
            "customer_id": customer_ids.take(pa.array(customer)),
            "product_id": PRODUCT_IDS.take(pa.array(product)),
            "snapshot_date": date_array(np.full(customer.size, last_day)),
            "balance": pa.array(state.balance[customer, product]),
        },
    )


def churn_truth_table(truth: MonthTruth, month_start_day: int, customer_ids: pa.Array) -> pa.Table:
    """`_truth/churn.parquet` rows of one month."""
    return pa.table(
        {
            CUSTOMER_ID: customer_ids.take(pa.array(truth.who)),
            "month_start": date_array(np.full(truth.who.size, month_start_day)),
            "p_churn_90d": pa.array(truth.p_churn),
            "p_leave_90d": pa.array(truth.p_leave),
            "p_churn_90d_if_called": pa.array(truth.p_churn_if_called),
            "response": pa.DictionaryArray.from_arrays(
                pa.array(truth.response, pa.int8()), pa.array(RESPONSES)
            ),
            "leaving": pa.array(truth.leaving),
        }
    )


def adoption_truth_table(
    truth: MonthTruth, month_start_day: int, customer_ids: pa.Array, column_prefix: str
) -> pa.Table:
    """`_truth/adoption.parquet` rows of one month: a column per product, null where held."""
    columns = {
        CUSTOMER_ID: customer_ids.take(pa.array(truth.who)),
        "month_start": date_array(np.full(truth.who.size, month_start_day)),
    }
    for product, spec in enumerate(CATALOGUE):
        columns[column_prefix + spec.product_id] = pa.array(
            truth.p_open[:, product], from_pandas=True
        )
    return pa.table(columns)


def calls_truth_table(calls: CallRecord, month_start_day: int, customer_ids: pa.Array) -> pa.Table:
    """`_truth/calls.parquet` rows of one call month."""
    return pa.table(
        {
            CUSTOMER_ID: customer_ids.take(pa.array(calls.called)),
            "month_start": date_array(np.full(calls.called.size, month_start_day)),
            "response": pa.array(np.asarray(RESPONSES)[calls.response]),
            "was_leaving": pa.array(calls.was_leaving),
            "saved": pa.array(calls.saved),
        }
    )


def departures_truth_table(
    state: BankState, calendar: Calendar, customer_ids: pa.Array
) -> pa.Table:
    """`_truth/departures.parquet`: every customer who closed everything or went dormant by
    the extraction, when they decided (null for a closure nobody decided), when they went
    quiet and when they closed, and why they closed."""
    closed = state.churned
    quiet = state.dormant
    who = np.flatnonzero(closed | quiet)
    decided = state.decided_month[who]
    undecided = decided == NEVER_DECIDED
    first = np.datetime64(int(calendar.month_start_day[0]), "D").astype("datetime64[M]")
    months_after = np.where(undecided, 0, decided).astype("timedelta64[M]")
    decided_day = (first + months_after).astype("datetime64[D]")
    cause = np.vectorize(CLOSURE_CAUSES.get, otypes=[object])(state.noise_cause[who])
    return pa.table(
        {
            CUSTOMER_ID: customer_ids.take(pa.array(who)),
            "decided_at": pa.array(
                decided_day.astype(np.int64).astype(np.int32), type=pa.date32(), mask=undecided
            ),
            "dormant_at": pa.array(state.gone_us[who], type=pa.timestamp("us"), mask=~quiet[who]),
            "closed_at": pa.array(state.churn_us[who], type=pa.timestamp("us"), mask=~closed[who]),
            "closure_cause": pa.array(np.where(closed[who], cause, None)),
        }
    )
