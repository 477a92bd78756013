"""Point-in-time features and labels, defined once as Ibis expressions.

The same expression runs on DuckDB (default), on Spark (`features.engine = "spark"`), and on a
single customer's records for real-time scoring. Rules that keep it honest:

- a feature as of D reads only records stamped strictly before D; a second timestamp on a
  record (`closed_at`, `resolved_at`) counts only if it is before D as well, so a complaint
  resolved after D is still open as of D;
- labels read only the horizon [D, D + horizon), and are null where the extract does not yet
  cover the whole horizon, or where the question does not apply (a product already held).

Each family of features lives in its own module, its declarations (`features.spec.Feature`)
beside the expressions: `customers` (with `attributes`, the attributes in force at D),
`transactions`, `products`, `interactions`, `balances`, `market`, `value`, and `labels`.
This module joins them into one row per customer and as-of date, and every build checks
that each family computes exactly the columns it declares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import ibis
import ibis.expr.types as ir

from common.config import FeaturesConfig
from common.dates import start_of
from features import (
    balances,
    customers,
    interactions,
    labels,
    market,
    products,
    transactions,
    value,
)
from features.expressions import DAY_SECONDS, KEYS, epoch, left_join
from features.labels import LABEL_CHURN, LABEL_XSELL_PREFIX, LABELS
from features.products import held_column
from features.spec import Feature, FeatureFamily, check_computed, computed_names

__all__ = [
    "CATEGORICAL_FEATURES",
    "FAMILIES",
    "KEYS",
    "LABEL_CHURN",
    "LABEL_XSELL_PREFIX",
    "FeatureInputs",
    "as_of_timestamps",
    "build_features",
    "feature_columns",
    "feature_names",
    "held_column",
    "xsell_feature_names",
]

# In output order: models see the numbers of every family, then the categoricals, then the
# per-product columns (`held__<product_id>`, cross-sell inputs).
FAMILIES: tuple[FeatureFamily, ...] = (
    customers.FAMILY,
    transactions.FAMILY,
    products.FAMILY,
    interactions.FAMILY,
    balances.FAMILY,
    market.FAMILY,
    value.FAMILY,
)


@dataclass(frozen=True)
class FeatureInputs:
    """The typed contract tables the definitions read (the optional ones may be None)."""

    customers: ir.Table
    products: ir.Table
    holdings: ir.Table
    transactions: ir.Table
    interactions: ir.Table
    balances: ir.Table | None = None
    customer_attributes: ir.Table | None = None
    market_rates: ir.Table | None = None

    @classmethod
    def from_tables(cls, tables: dict[str, ir.Table]) -> FeatureInputs:
        return cls(**{name: tables.get(name) for name in cls.__dataclass_fields__})


def as_of_timestamps(as_of_dates: Sequence[date]) -> list[datetime]:
    """As-of dates mean the start of that day: everything stamped before it is known."""
    return [start_of(day) for day in sorted(set(as_of_dates))]


def feature_columns(config: FeaturesConfig, product_ids: Sequence[str] = ()) -> list[Feature]:
    """Every declared feature column in output order (no keys, no labels).

    Args:
        config: the look-back windows.
        product_ids: the catalogue; without it, no per-product columns.

    Returns:
        Numeric features, then categorical ones, then the per-product columns.
    """
    columns = [
        column for family in FAMILIES for column in family.columns(config.windows_days, product_ids)
    ]
    return [
        *(column for column in columns if not column.per_product and not column.categorical),
        *(column for column in columns if not column.per_product and column.categorical),
        *(column for column in columns if column.per_product),
    ]


def feature_names(config: FeaturesConfig) -> list[str]:
    """Model inputs in output order (no keys, no labels)."""
    return [column.name for column in feature_columns(config)]


def xsell_feature_names(config: FeaturesConfig, product_ids: Sequence[str]) -> list[str]:
    """Cross-sell model inputs: the customer features and which products are held."""
    return [*feature_names(config), *[held_column(pid) for pid in product_ids]]


CATEGORICAL_FEATURES = tuple(
    column.name for family in FAMILIES for column in family.columns((), ()) if column.categorical
)


def build_features(
    inputs: FeatureInputs,
    as_of_dates: Sequence[date] | ir.Table,
    config: FeaturesConfig,
    product_ids: Sequence[str],
    extracted_at: datetime | None = None,
    with_labels: bool = False,
) -> ir.Table:
    """One row per customer and as-of date: behaviour signals, tier and optional labels.

    Args:
        inputs: validated contract tables.
        as_of_dates: the cut-off dates, or a table with a timestamp column `as_of` (the
            real-time path fills one in per request); a customer appears for each date
            they are a customer at.
        config: windows, horizon, churn definition, tier rules.
        product_ids: products that get a cross-sell label (the catalogue, sorted).
        extracted_at: end of the extract; labels whose horizon ends later are null.
        with_labels: add `label_churn` and `label_xsell__<product_id>`.

    Returns:
        An unexecuted Ibis table keyed by (`customer_id`, `as_of`).

    Raises:
        DeclarationMismatch: a family computes other columns than it declares.
    """
    if not isinstance(as_of_dates, ir.Table):
        as_of_dates = ibis.memtable({"as_of": as_of_timestamps(as_of_dates)})
    as_of = as_of_dates.select("as_of").mutate(as_of_s=epoch(ibis._.as_of))
    table, aggregated = _joined_aggregates(inputs, as_of, config, product_ids)
    table = _fill_zero(table, aggregated, config, product_ids)
    derived = {
        transactions.FAMILY.name: transactions.derived_features(table, config),
        products.FAMILY.name: products.derived_features(table),
        interactions.FAMILY.name: interactions.derived_features(table),
        value.FAMILY.name: value.derived_features(table, config),
    }
    for family in FAMILIES:
        check_computed(
            family,
            aggregated.get(family.name, []),
            derived.get(family.name, {}),
            config.windows_days,
            product_ids,
        )
    table = table.mutate(**{name: e for exprs in derived.values() for name, e in exprs.items()})
    if with_labels:
        table = labels.add_labels(table, inputs, as_of, config, product_ids, extracted_at)
    return table.select(*_output_columns(table, config, product_ids, with_labels))


def _joined_aggregates(inputs, as_of, config, product_ids) -> tuple[ir.Table, dict]:
    """Who is a customer at D, with every family's aggregates joined on.

    Returns:
        The joined table, and the feature columns each family aggregated, by family name.
    """
    people = customers.customer_features(inputs.customers, as_of, inputs.customer_attributes)
    holdings = products.holding_features(inputs.holdings, inputs.products, as_of, product_ids)
    parts = {
        customers.FAMILY.name: people,
        products.FAMILY.name: holdings,
        transactions.FAMILY.name: transactions.transaction_features(
            inputs.transactions, as_of, config
        ),
        interactions.FAMILY.name: interactions.interaction_features(
            inputs.interactions, as_of, config
        ),
    }
    if inputs.balances is not None:
        parts[balances.FAMILY.name] = balances.balance_features(
            inputs.balances, inputs.products, as_of
        )
    if inputs.market_rates is not None:
        parts[market.FAMILY.name] = market.market_features(inputs.market_rates, as_of)
    table = _population(people, holdings, config)
    for family in (transactions.FAMILY, interactions.FAMILY, balances.FAMILY):
        if family.name in parts:
            table = left_join(table, parts[family.name])
    table = market.join_market(table, parts.get(market.FAMILY.name))
    aggregated = {name: computed_names(part.columns) for name, part in parts.items()}
    if inputs.balances is None:
        nulls = balances.without_balances()
        table = table.mutate(**nulls)
        aggregated[balances.FAMILY.name] = list(nulls)
    if inputs.market_rates is None:
        aggregated[market.FAMILY.name] = [column.name for column in market.FAMILY.columns((), ())]
    return table, aggregated


def _population(people: ir.Table, holdings: ir.Table, config: FeaturesConfig) -> ir.Table:
    """Who is a customer at D: joined before D and a product open, or the last one closed
    within the churned lookback (win-back)."""
    c = people.inner_join(holdings, list(KEYS))
    lookback_s = config.tiers.churned_lookback_days * DAY_SECONDS
    last_closed_s = c["_last_closed_s"]
    return c.filter(
        (c.products_held > 0)
        | (last_closed_s.notnull() & (c.as_of_s - last_closed_s <= lookback_s))
    )


def _fill_zero(table, aggregated, config, product_ids) -> ir.Table:
    """Aggregates declared `missing="zero"` read 0 where the customer had no records
    (no complaint means 0 complaints); `check_computed` reports any declared column that
    no aggregate computes."""
    zero = {
        column.name
        for family in FAMILIES
        for column in family.columns(config.windows_days, product_ids)
        if column.missing == "zero"
    }
    names = [name for columns in aggregated.values() for name in columns if name in zero]
    return table.mutate(**{name: table[name].fill_null(0) for name in names})


def _output_columns(t, config, product_ids, with_labels):
    """The declared columns, typed: numbers as float64, categoricals as text."""
    columns = [
        t.customer_id.cast("string").name("customer_id"),
        t.as_of.cast("timestamp").name("as_of"),
        *[
            t[column.name].cast(column.dtype).name(column.name)
            for column in feature_columns(config, product_ids)
        ],
    ]
    if with_labels:
        columns += [t[column.name] for column in LABELS.columns((), product_ids)]
    return columns
