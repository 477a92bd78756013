"""Ibis building blocks the feature families share: the row key, counting, time arithmetic."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

DAY_SECONDS = 86_400
KEYS = ("customer_id", "as_of")


def count_if(condition: ir.BooleanValue) -> ir.IntegerScalar:
    """Rows meeting a condition. `count(CASE …)` beats `count(*) FILTER (…)` in DuckDB."""
    return ibis.cases((condition, 1)).count()


def value_if(condition: ir.BooleanValue, value: ir.Value) -> ir.Value:
    """The value where the condition holds, else null: aggregates then skip the row."""
    return ibis.cases((condition, value))


def left_join(left: ir.Table, right: ir.Table) -> ir.Table:
    """Left join on (customer_id, as_of), keeping one copy of the keys."""
    return left.left_join(right, list(KEYS)).drop(*(f"{key}_right" for key in KEYS))


def epoch(timestamp: ir.TimestampValue) -> ir.IntegerValue:
    """Whole seconds since 1970: engines disagree on fractions (DuckDB keeps them)."""
    return timestamp.epoch_seconds().floor()


def days(seconds: ir.NumericValue) -> ir.FloatingValue:
    """Seconds as (fractional) days."""
    return seconds.cast("float64") / DAY_SECONDS


def within(age_s: ir.IntegerValue, window_days: int) -> ir.BooleanValue:
    """An age in seconds is at most `window_days` days."""
    return age_s <= window_days * DAY_SECONDS
