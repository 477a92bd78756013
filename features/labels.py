"""Labels: churn and cross-sell outcomes in the horizon [D, D + horizon) after an as-of date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from common.config import FeaturesConfig
from features.balances import ASSET_FAMILIES
from features.expressions import KEYS, count_if, left_join
from features.products import held_column
from features.spec import Feature, FeatureFamily, check_computed

if TYPE_CHECKING:
    from features.definitions import FeatureInputs

LABEL_CHURN = "label_churn"
LABEL_XSELL_PREFIX = "label_xsell__"

LABELS = FeatureFamily(
    name="labels",
    description="Outcomes in [D, D + `features.horizon_days`), null where not observable.",
    features=(
        Feature(
            LABEL_CHURN,
            "1 if the customer churns within the horizon (`features.churn`), 0 if not; "
            "null if no product was open at D (or, for inactivity, no transaction before D)",
        ),
        Feature(
            LABEL_XSELL_PREFIX + "{product_id}",
            "1 if the customer opens the product within the horizon, 0 if not; null if they "
            "held it at D (it cannot be sold to them) or held no product at D",
        ),
    ),
)


def add_labels(
    t: ir.Table,
    inputs: FeatureInputs,
    as_of: ir.Table,
    config: FeaturesConfig,
    product_ids: Sequence[str],
    extracted_at: datetime | None,
) -> ir.Table:
    """Churn and cross-sell outcomes in [D, D + horizon), null when not observable.

    Args:
        t: the features, with `products_held` and the `held__<product_id>` columns.
        inputs: the contract tables.
        as_of: the as-of dates (`as_of`, `as_of_s`).
        config: horizon and churn definition.
        product_ids: products that get a cross-sell label.
        extracted_at: end of the extract; labels whose horizon ends later are null.

    Returns:
        `t` with `label_churn` and `label_xsell__<product_id>` added.
    """
    horizon = ibis.interval(days=config.horizon_days)
    windows = as_of.mutate(horizon_end=as_of.as_of + horizon)
    observable = ibis.literal(True)
    if extracted_at is not None:
        observable = t.as_of + horizon <= ibis.literal(extracted_at)

    h = inputs.holdings.cross_join(windows)
    h = h.filter(h.opened_at < h.horizon_end)
    end_state = h.group_by(*KEYS).aggregate(
        open_at_horizon_end=count_if(h.closed_at.isnull() | (h.closed_at >= h.horizon_end)),
        **{
            f"opened__{pid}": count_if((h.product_id == pid) & (h.opened_at >= h.as_of))
            for pid in product_ids
        },
    )
    t = left_join(t, end_state)
    active = t.products_held > 0
    churn_applies = active

    if config.churn.kind == "all_products_closed":
        churned = t.open_at_horizon_end.fill_null(0) == 0
    else:
        t = _join_inactivity_outcome(t, inputs, windows, config)
        churned = t.inactive_at_horizon_end
        # Only someone still active can become inactive; cross-sell is unaffected.
        churn_applies = active & (t.txn_before.fill_null(0) > 0)
    labels = {
        LABEL_CHURN: ibis.cases(
            (observable & churn_applies, churned.cast("float64")), else_=ibis.null("float64")
        ),
        **{
            f"{LABEL_XSELL_PREFIX}{pid}": ibis.cases(
                (
                    observable & active & (t[held_column(pid)] == 0),
                    (t[f"opened__{pid}"].fill_null(0) > 0).cast("float64"),
                ),
                else_=ibis.null("float64"),
            )
            for pid in product_ids
        },
    }
    check_computed(LABELS, [], labels, config.windows_days, product_ids)
    return t.mutate(**labels)


def _join_inactivity_outcome(t, inputs, windows, config):
    """Adds `txn_before` (activity in the `inactivity_days` before D) and
    `inactive_at_horizon_end`: no activity in the last `inactivity_days` of the horizon and,
    when the extract has balances, the balance left behind below the threshold."""
    inactivity = ibis.interval(days=config.churn.inactivity_days)
    activity = _activity(inputs.transactions, config)
    tx = activity.join(
        windows,
        [activity.ts < windows.horizon_end, activity.ts >= windows.as_of - inactivity],
    )
    counts = tx.group_by(*KEYS).aggregate(
        txn_before=count_if(tx.ts < tx.as_of),
        txn_late=count_if(tx.ts >= tx.horizon_end - inactivity),
    )
    t = left_join(t, counts)
    inactive = t.txn_late.fill_null(0) == 0
    if inputs.balances is not None:
        # Money left behind: assets (not debt) at the last month-end inside the horizon's
        # final five weeks; no snapshot there means nothing left (all accounts closed).
        balances = inputs.balances.join(
            inputs.products.select("product_id", "family"), "product_id"
        )
        balances = balances.filter(balances.family.isin(ASSET_FAMILIES))
        snapshot = balances.snapshot_date.cast("timestamp")
        b = balances.join(
            windows,
            [
                snapshot < windows.horizon_end,
                snapshot >= windows.horizon_end - ibis.interval(days=35),
            ],
        )
        monthly = b.group_by(*KEYS, "snapshot_date").aggregate(total=b.balance.sum())
        end_balance = monthly.group_by(*KEYS).aggregate(
            balance_at_end=monthly.total.argmax(monthly.snapshot_date)
        )
        t = left_join(t, end_balance)
        threshold = config.churn.inactivity_balance_threshold
        inactive = inactive & (t.balance_at_end.fill_null(0.0) < threshold)
    return t.mutate(inactive_at_horizon_end=inactive)


def _activity(transactions: ir.Table, config: FeaturesConfig) -> ir.Table:
    """The transactions that show a customer is active, for the inactivity definition."""
    if config.churn.activity == "customer_initiated":
        # The bank's own bookings (channel system: interest, fees, standing orders, money
        # coming in) run on for years in an account its owner has abandoned.
        return transactions.filter(
            transactions.channel.isnull() | (transactions.channel != "system")
        )
    return transactions
