"""Market features: the savings rates the bank records about its market, as known at D.

The same for every customer at a date, so they are computed per as-of date and joined on
by date. A competitor paying more than the bank is a reason to move savings; the change
over 90 days says whether that gap is opening or closing.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.expressions import DAY_SECONDS, epoch
from features.spec import Feature, FeatureFamily

GAP_CHANGE_DAYS = 90

FAMILY = FeatureFamily(
    name="market",
    description=(
        "From `market_rates`, the latest rates published before D. The same for every "
        "customer at a date; all null without a `market_rates` table or before its first "
        "publication."
    ),
    features=(
        Feature("market_savings_rate", "best instant-access savings rate on the market, % a year"),
        Feature(
            "savings_rate_gap",
            "market rate minus the bank's own savings rate, percentage points (> 0: "
            "competitors pay more)",
        ),
        Feature(
            "savings_rate_gap_change_90d",
            "the gap now minus the gap as published 90 days before D (null = nothing "
            "published that early)",
            window_days=GAP_CHANGE_DAYS,
        ),
    ),
)


def market_features(market_rates: ir.Table, as_of: ir.Table) -> ir.Table:
    """Per as-of date (`as_of`), the family's columns from the rates published before D.

    Args:
        market_rates: validated `market_rates`.
        as_of: the as-of dates (`as_of`, `as_of_s`).

    Returns:
        One row per as-of date with a publication before it.
    """
    r = market_rates.cross_join(as_of.select("as_of", "as_of_s"))
    published_s = epoch(r.published_at)
    now = _latest(r, published_s < r.as_of_s)
    then = _latest(r, published_s < r.as_of_s - GAP_CHANGE_DAYS * DAY_SECONDS)
    joined = now.left_join(then.select("as_of", _gap_then=then._gap), "as_of")
    return joined.select(
        "as_of",
        market_savings_rate=joined.market_savings_rate,
        savings_rate_gap=joined._gap,
        savings_rate_gap_change_90d=joined._gap - joined._gap_then,
    )


def _latest(r: ir.Table, known: ir.BooleanValue) -> ir.Table:
    """Per as-of date, the rates of the latest publication meeting `known` (a window, not
    `arg_max`: the engines disagree on whether a null rate is skipped)."""
    r = r.filter(known)
    latest_first = ibis.window(group_by=r.as_of, order_by=ibis.desc(r.published_at))
    r = r.mutate(_rank=ibis.row_number().over(latest_first))
    r = r.filter(r._rank == 0)
    return r.select(
        "as_of",
        market_savings_rate=r.market_savings_rate,
        _gap=r.market_savings_rate - r.bank_savings_rate,
    )


def join_market(table: ir.Table, market: ir.Table | None) -> ir.Table:
    """The population with the market columns joined on by date (all null without rates)."""
    if market is None:
        return table.mutate(
            **{column.name: ibis.null("float64") for column in FAMILY.columns((), ())}
        )
    joined = table.left_join(market, "as_of")
    return joined.drop(*(name for name in ("as_of_right",) if name in joined.columns))
