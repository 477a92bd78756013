"""Product features: what a customer holds at D, and what they opened and closed before."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from features.expressions import KEYS, count_if, days, epoch, value_if, within
from features.schema import PRODUCT_FAMILIES
from features.spec import Feature, FeatureFamily

FIXED_RATE_ENDED_DAYS = 180
HELD = Feature(
    "held__{product_id}",
    "1 if that catalogue product is open at D, else 0: inputs of the cross-sell model, and "
    "what serving must never offer again",
    missing="zero",
)
FAMILY = FeatureFamily(
    name="products",
    description=(
        "From `holdings`: a holding counts from its `opened_at`; one closed on or after D is "
        "still open as of D. Its `fixed_until`, agreed at opening, is known from `opened_at` "
        "on, even when it falls after D."
    ),
    features=(
        Feature("products_held", "products open at D", missing="zero"),
        Feature("held_family__{family}", "products of that family open at D", missing="zero"),
        Feature("products_closed_90d", "products closed", window_days=90, missing="zero"),
        Feature("products_closed_365d", "products closed", window_days=365, missing="zero"),
        Feature("products_opened_365d", "products opened", window_days=365, missing="zero"),
        Feature("days_since_last_product_closed", "recency (null = never closed one)"),
        Feature("days_since_last_product_opened", "recency"),
        Feature("product_tenure_days", "days since the first product was opened"),
        Feature(
            "days_to_fixed_rate_end",
            "days from D to the nearest `fixed_until` on or after D among the holdings open "
            "at D (null = none fixed): lock-in that is about to end",
        ),
        Feature(
            "fixed_rate_ended_180d",
            "1 if a holding open at D had its fixed-rate period end in the 180 days before D "
            "(free to leave without a charge), else 0",
            window_days=FIXED_RATE_ENDED_DAYS,
            missing="zero",
        ),
        HELD,
    ),
)


def held_column(product_id: str) -> str:
    """Column saying whether a catalogue product is open at D (1.0) or not (0.0)."""
    return HELD.name.format(product_id=product_id)


def holding_features(
    holdings: ir.Table, products: ir.Table, as_of: ir.Table, product_ids: Sequence[str]
) -> ir.Table:
    """Products held, opened and closed as of D, per customer and as-of date.

    Helpers `_first_opened_s`, `_last_opened_s`, `_last_closed_s` and `_next_fixed_end_s`
    (epoch seconds) feed the population rule and the recencies.
    """
    h = holdings.join(products.select("product_id", "family"), "product_id")
    h = h.cross_join(as_of)
    h = h.filter(h.opened_at < h.as_of)
    opened_s = epoch(h.opened_at)
    # closed_at on or after D is unknown as of D, so it must read exactly like "still open".
    closed_before = h.closed_at.notnull() & (h.closed_at < h.as_of)
    closed_s = ibis.cases((closed_before, epoch(h.closed_at)), else_=ibis.null("int64"))
    is_open = ~closed_before
    age_open = h.as_of_s - opened_s
    age_closed = h.as_of_s - closed_s
    # `fixed_until` is agreed at opening: known for every holding opened before D.
    fixed_s = epoch(h.fixed_until.cast("timestamp"))
    fixed_ahead = is_open & h.fixed_until.notnull() & (fixed_s >= h.as_of_s)
    fixed_ended = (
        is_open
        & h.fixed_until.notnull()
        & (fixed_s < h.as_of_s)
        & within(h.as_of_s - fixed_s, FIXED_RATE_ENDED_DAYS)
    )
    return h.group_by(*KEYS).aggregate(
        products_held=count_if(is_open),
        **{
            f"held_family__{family}": count_if(is_open & (h.family == family))
            for family in PRODUCT_FAMILIES
        },
        products_closed_90d=count_if(closed_before & within(age_closed, 90)),
        products_closed_365d=count_if(closed_before & within(age_closed, 365)),
        products_opened_365d=count_if(within(age_open, 365)),
        fixed_rate_ended_180d=ibis.cases((fixed_ended, 1), else_=0).max(),
        **{held_column(pid): count_if(is_open & (h.product_id == pid)) for pid in product_ids},
        _next_fixed_end_s=value_if(fixed_ahead, fixed_s).min(),
        _first_opened_s=opened_s.min(),
        _last_opened_s=opened_s.max(),
        _last_closed_s=closed_s.max(),
    )


def derived_features(t: ir.Table) -> dict[str, ir.Value]:
    """Recencies, and the time to the next end of a fixed rate, from the holdings' helpers."""
    return {
        "days_since_last_product_closed": days(t.as_of_s - t["_last_closed_s"]),
        "days_since_last_product_opened": days(t.as_of_s - t["_last_opened_s"]),
        "product_tenure_days": days(t.as_of_s - t["_first_opened_s"]),
        "days_to_fixed_rate_end": days(t["_next_fixed_end_s"] - t.as_of_s),
    }
