"""Balance features: assets, debt and their recent course, from month-end snapshots."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.expressions import DAY_SECONDS, KEYS, epoch, value_if
from features.spec import Feature, FeatureFamily

ASSET_FAMILIES = ("current_account", "savings", "time_deposit", "funds", "pension")
DEBT_FAMILIES = ("personal_loan", "mortgage", "credit_card")

FAMILY = FeatureFamily(
    name="balances",
    description=(
        "From `balances`, the month-ends of the 190 days before D; a snapshot dated E is "
        "known from E + 1 day. All null without a `balances` table."
    ),
    features=(
        Feature(
            "assets_latest", "assets at the latest month-end (" + ", ".join(ASSET_FAMILIES) + ")"
        ),
        Feature("debt_latest", "debt at the latest month-end (" + ", ".join(DEBT_FAMILIES) + ")"),
        Feature("current_balance_latest", "current accounts at the latest month-end"),
        Feature("assets_mean_6m", "mean month-end assets", window_days=190),
        Feature("assets_std_6m", "volatility of month-end assets", window_days=190),
        Feature(
            "assets_trend_3m",
            "latest assets minus those of the oldest month-end within 100 days",
            window_days=100,
        ),
    ),
)


def balance_features(balances: ir.Table, products: ir.Table, as_of: ir.Table) -> ir.Table:
    """Month-end balances per customer and as-of date; a snapshot dated D is known from
    D + 1 on."""
    b = balances.join(products.select("product_id", "family"), "product_id")
    b = b.join(
        as_of,
        [
            b.snapshot_date.cast("timestamp") < as_of.as_of,
            b.snapshot_date.cast("timestamp") >= as_of.as_of - ibis.interval(days=190),
        ],
    )
    monthly = b.group_by(*KEYS, "snapshot_date").aggregate(
        assets=value_if(b.family.isin(ASSET_FAMILIES), b.balance).sum(),
        debt=value_if(b.family.isin(DEBT_FAMILIES), b.balance).sum(),
        current=value_if(b.family == "current_account", b.balance).sum(),
        as_of_s=b.as_of_s.max(),
    )
    age = monthly.as_of_s - epoch(monthly.snapshot_date.cast("timestamp"))
    assets = monthly.assets.fill_null(0.0)
    assets_latest = assets.argmax(monthly.snapshot_date)
    return monthly.group_by(*KEYS).aggregate(
        assets_latest=assets_latest,
        debt_latest=monthly.debt.fill_null(0.0).argmax(monthly.snapshot_date),
        current_balance_latest=monthly.current.argmax(monthly.snapshot_date),
        assets_mean_6m=assets.mean(),
        assets_std_6m=assets.std(how="pop"),
        assets_trend_3m=assets_latest
        - assets.argmin(monthly.snapshot_date, where=age <= 100 * DAY_SECONDS),
    )


def without_balances() -> dict[str, ir.Value]:
    """The family's columns for an extract without a `balances` table: all null."""
    return {column.name: ibis.null("float64") for column in FAMILY.columns((), ())}
