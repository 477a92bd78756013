"""Customer attributes as they stood just before D, and how many rows could not say.

A bank that records when it changes a customer's segment, income band, risk appetite,
preferred channel, do-not-contact flag or region gives the history in `customer_attributes`
(one row per version, in force over [valid_from, valid_to)). Features as of D read the
version in force just before D: `valid_from` before D and `valid_to` null or on or after D
(a version replaced on or after D was still in force as of D, like a holding closed on or
after D). Where versions overlap, the latest `valid_from` wins: the usual fault is an old
version the bank forgot to close, and quarantining it would leave the customer with no
history at all.

Where no version is in force (no history, before the customer's first version, in a gap),
the `customers` value stands in: the value at extraction, which may postdate D. That is a
fallback, not a point-in-time read, so `attribute_coverage` counts the rows that took it and
the feature build and the training run report it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from features.expressions import KEYS
from features.schema import CHANGEABLE_ATTRIBUTES

# Prefix of a version's columns once joined beside the customer's own.
VERSION_PREFIX = "_version__"


def versions_in_force(history: ir.Table, as_of: ir.Table) -> ir.Table:
    """The version of each customer's attributes in force just before each as-of date.

    Args:
        history: validated `customer_attributes` rows.
        as_of: a table with the timestamp column `as_of`.

    Returns:
        One row per (`customer_id`, `as_of`) that has a version in force: its six
        attributes, its `valid_from` and `first` (it is the customer's first version),
        each prefixed `_version__`.
    """
    first = ibis.window(group_by=history.customer_id)
    h = history.mutate(_first_from=history.valid_from.min().over(first))
    v = h.cross_join(as_of.select("as_of"))
    v = v.filter((v.valid_from < v.as_of) & (v.valid_to.isnull() | (v.valid_to >= v.as_of)))
    latest_first = ibis.window(group_by=[v.customer_id, v.as_of], order_by=ibis.desc(v.valid_from))
    v = v.mutate(_rank=ibis.row_number().over(latest_first))
    v = v.filter(v._rank == 0)
    return v.select(
        *KEYS,
        **{f"{VERSION_PREFIX}{name}": v[name] for name in CHANGEABLE_ATTRIBUTES},
        **{
            f"{VERSION_PREFIX}valid_from": v.valid_from,
            f"{VERSION_PREFIX}first": v.valid_from == v._first_from,
        },
    )


def attributes_as_of(c: ir.Table, history: ir.Table | None, as_of: ir.Table) -> ir.Table:
    """Customer rows per as-of date with the attributes in force before D.

    Args:
        c: customers crossed with the as-of dates (`customer_id`, `as_of` and the
            `customers` columns).
        history: validated `customer_attributes`, or None when the extract has none.
        as_of: the as-of dates (`as_of`).

    Returns:
        `c` with each changeable attribute replaced by the version in force (the `customers`
        value where none is), and `_attribute_changed_at`: when the version in force began,
        null when it is the customer's first version or there is none.
    """
    if history is None:
        return c.mutate(_attribute_changed_at=ibis.null("timestamp"))
    versions = versions_in_force(history, as_of)
    joined = c.left_join(versions, list(KEYS)).drop(*(f"{key}_right" for key in KEYS))
    in_force = joined[f"{VERSION_PREFIX}valid_from"].notnull()
    first = joined[f"{VERSION_PREFIX}first"]
    return joined.mutate(
        # The whole version or nothing: a version's null means "not known then", and must
        # not be filled from the value at extraction.
        **{
            name: ibis.cases((in_force, joined[f"{VERSION_PREFIX}{name}"]), else_=joined[name])
            for name in CHANGEABLE_ATTRIBUTES
        },
        _attribute_changed_at=ibis.cases(
            (in_force & ~first, joined[f"{VERSION_PREFIX}valid_from"]),
            else_=ibis.null("timestamp"),
        ),
    ).drop(*(name for name in joined.columns if name.startswith(VERSION_PREFIX)))


@dataclass(frozen=True)
class AttributeCoverage:
    """Where the customer attributes of a feature build came from.

    Attributes:
        has_history: the extract has a `customer_attributes` table.
        rows: feature rows per as-of date.
        as_of_extraction: rows per as-of date whose attributes are the `customers` values
            (no version in force before D, or no history at all).
    """

    has_history: bool
    rows: Mapping[date, int]
    as_of_extraction: Mapping[date, int]

    @property
    def share_as_of_extraction(self) -> float:
        total = sum(self.rows.values())
        return sum(self.as_of_extraction.values()) / total if total else 0.0

    def describe(self) -> str:
        """One line for a person: where the attributes came from."""
        if not self.has_history:
            return (
                "customer attributes: as of extraction for every row (the extract has no "
                "customer_attributes table): a value changed after an as-of date shows in "
                "its features"
            )
        share = self.share_as_of_extraction
        if not share:
            return "customer attributes: point in time (customer_attributes) for every row"
        return (
            f"customer attributes: point in time (customer_attributes), except {share:.1%} "
            "of rows as of extraction (no version in force before the as-of date)"
        )


def attribute_coverage(keys: ir.Table, history: ir.Table | None) -> AttributeCoverage:
    """Count the feature rows whose attributes fell back to `customers`.

    Args:
        keys: the (`customer_id`, `as_of`) rows of a feature build.
        history: validated `customer_attributes`, or None.

    Returns:
        Rows and fallback rows per as-of date (one query).
    """
    keys = keys.select(*KEYS)
    if history is None:
        counted = keys.group_by("as_of").aggregate(rows=keys.count(), fallback=keys.count())
    else:
        versions = versions_in_force(history, keys.select("as_of").distinct())
        joined = keys.left_join(versions, list(KEYS))
        counted = joined.group_by("as_of").aggregate(
            rows=joined.count(),
            fallback=joined.count(where=joined[f"{VERSION_PREFIX}valid_from"].isnull()),
        )
    rows = counted.to_pyarrow().to_pylist()
    return AttributeCoverage(
        has_history=history is not None,
        rows={row["as_of"].date(): int(row["rows"]) for row in rows},
        as_of_extraction={row["as_of"].date(): int(row["fallback"] or 0) for row in rows},
    )
