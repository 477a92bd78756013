"""What a customer is worth to the bank: the value at stake and the service tier."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from common.config import FeaturesConfig
from features.schema import TIERS
from features.spec import Feature, FeatureFamily

FAMILY = FeatureFamily(
    name="value",
    description="From the other families' features.",
    features=(
        Feature(
            "customer_value",
            "larger of assets and monthly inflow (90-day credits / 3): the value at stake "
            "when ranking callbacks",
        ),
        Feature(
            "tier",
            "core / important / general / new / churned, by the rules under Tiers below",
            dtype="string",
            levels=TIERS,
        ),
    ),
)


def derived_features(t: ir.Table, config: FeaturesConfig) -> dict[str, ir.Value]:
    """Customer value and tier, from balances, transactions, products and tenure."""
    rules = config.tiers
    assets = t.assets_latest.fill_null(0.0)
    tier = ibis.cases(
        (t.products_held == 0, "churned"),
        (t.tenure_days < rules.new_customer_days, "new"),
        (assets >= rules.core_min_assets, "core"),
        (
            (assets >= rules.important_min_assets)
            | (t.txn_count_90d >= rules.important_min_transactions_90d),
            "important",
        ),
        else_="general",
    )
    return {
        # Assets held, or the monthly flow through the bank for customers without a
        # balance feed.
        "customer_value": ibis.greatest(assets, t.credit_sum_90d.cast("float64") / 3),
        "tier": tier,
    }
