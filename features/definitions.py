"""Point-in-time features and labels, defined once as Ibis expressions.

The same expression runs on DuckDB (default), on Spark (`features.engine = "spark"`), and on a
single customer's records for real-time scoring. Rules that keep it honest:

- a feature as of D reads only records stamped strictly before D; a second timestamp on a
  record (`closed_at`, `resolved_at`) counts only if it is before D as well, so a complaint
  resolved after D is still open as of D;
- labels read only the horizon [D, D + horizon), and are null where the extract does not yet
  cover the whole horizon, or where the question does not apply (a product already held).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

import ibis
import ibis.expr.types as ir

from common.config import FeaturesConfig
from features.schema import PRODUCT_FAMILIES, TRANSACTION_CHANNELS

DAY_SECONDS = 86_400
KEYS = ("customer_id", "as_of")
LABEL_CHURN = "label_churn"
LABEL_XSELL_PREFIX = "label_xsell__"
ASSET_FAMILIES = ("current_account", "savings", "time_deposit", "funds", "pension")
DEBT_FAMILIES = ("personal_loan", "mortgage", "credit_card")
SALARY_COUNTERPARTIES = ("salary", "pension")
DIGITAL_CHANNELS = ("online", "mobile")
CUSTOMER_ATTRIBUTES = (
    "gender",
    "region",
    "income_band",
    "risk_appetite",
    "preferred_channel",
    "segment",
    "do_not_contact",
)


@dataclass(frozen=True)
class FeatureInputs:
    """The typed contract tables the definitions read (`balances` may be None)."""

    customers: ir.Table
    products: ir.Table
    holdings: ir.Table
    transactions: ir.Table
    interactions: ir.Table
    balances: ir.Table | None = None

    @classmethod
    def from_tables(cls, tables: dict[str, ir.Table]) -> FeatureInputs:
        return cls(**{name: tables.get(name) for name in cls.__dataclass_fields__})


def as_of_timestamps(as_of_dates: Sequence[date]) -> list[datetime]:
    """As-of dates mean the start of that day: everything stamped before it is known."""
    return [datetime.combine(day, time.min) for day in sorted(set(as_of_dates))]


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
    """
    if not isinstance(as_of_dates, ir.Table):
        as_of_dates = ibis.memtable({"as_of": as_of_timestamps(as_of_dates)})
    as_of = as_of_dates.select("as_of").mutate(as_of_s=_epoch(ibis._.as_of))
    holdings = _holding_features(inputs, as_of, product_ids)
    population = _population(inputs.customers, as_of, holdings, config)
    parts = [
        _transaction_features(inputs.transactions, as_of, config),
        _interaction_features(inputs.interactions, as_of, config),
    ]
    if inputs.balances is not None:
        parts.append(_balance_features(inputs.balances, inputs.products, as_of))
    table = population
    for part in parts:
        table = _left_join(table, part)
    table = _derived(table, config, has_balances=inputs.balances is not None)
    if with_labels:
        table = _labels(table, inputs, as_of, config, product_ids, extracted_at)
    return table.select(*_output_columns(table, config, product_ids, with_labels))


def feature_names(config: FeaturesConfig) -> list[str]:
    """Model inputs in output order (no keys, no labels)."""
    return [*_numeric_names(config), *CATEGORICAL_FEATURES]


def held_column(product_id: str) -> str:
    """Column saying whether a catalogue product is open at D (1.0) or not (0.0)."""
    return f"held__{product_id}"


def xsell_feature_names(config: FeaturesConfig, product_ids: Sequence[str]) -> list[str]:
    """Cross-sell model inputs: the customer features and which products are held."""
    return [*feature_names(config), *[held_column(pid) for pid in product_ids]]


CATEGORICAL_FEATURES = ("gender", "region", "income_band", "preferred_channel", "segment", "tier")


def _numeric_names(config: FeaturesConfig) -> list[str]:
    names = ["age_years", "tenure_days", "risk_appetite", "do_not_contact"]
    for w in config.windows_days:
        names += [
            f"txn_count_{w}d",
            f"credit_sum_{w}d",
            f"debit_sum_{w}d",
            f"salary_sum_{w}d",
            f"transfer_out_other_bank_sum_{w}d",
            f"fee_sum_{w}d",
            *[f"txn_count_{channel}_{w}d" for channel in TRANSACTION_CHANNELS],
        ]
    names += [
        "txn_count_trend",
        "debit_sum_trend",
        "net_flow_90d",
        "days_since_last_txn",
        "days_since_last_salary",
        "salary_credits_180d",
        "salary_present",
        "salary_stopped",
        "digital_share_90d",
        "products_held",
        *[f"held_family__{family}" for family in PRODUCT_FAMILIES],
        "products_closed_90d",
        "products_closed_365d",
        "products_opened_365d",
        "days_since_last_product_closed",
        "days_since_last_product_opened",
        "product_tenure_days",
        "complaint_count_90d",
        "complaint_count_365d",
        "complaint_open",
        "complaint_max_severity_365d",
        "complaint_resolution_hours_mean_365d",
        "complaint_sla_breach_365d",
        "days_since_last_complaint",
        "days_since_complaint_resolved",
        "service_request_count_90d",
        "callback_count_365d",
        "callback_reached_365d",
        "days_since_last_callback",
        "satisfaction_mean_365d",
        "satisfaction_last",
        "login_count_30d",
        "login_count_90d",
        "login_trend",
        "days_since_last_login",
        "branch_visit_count_90d",
        "assets_latest",
        "debt_latest",
        "current_balance_latest",
        "assets_mean_6m",
        "assets_std_6m",
        "assets_trend_3m",
        "customer_value",
    ]
    return names


def _count_if(condition: ir.BooleanValue) -> ir.IntegerScalar:
    """Rows meeting a condition. `count(CASE …)` beats `count(*) FILTER (…)` in DuckDB."""
    return ibis.cases((condition, 1)).count()


def _value_if(condition: ir.BooleanValue, value: ir.Value) -> ir.Value:
    """The value where the condition holds, else null: aggregates then skip the row."""
    return ibis.cases((condition, value))


def _left_join(left: ir.Table, right: ir.Table) -> ir.Table:
    """Left join on (customer_id, as_of), keeping one copy of the keys."""
    return left.left_join(right, list(KEYS)).drop(*(f"{key}_right" for key in KEYS))


def _epoch(timestamp: ir.TimestampValue) -> ir.IntegerValue:
    """Whole seconds since 1970: engines disagree on fractions (DuckDB keeps them)."""
    return timestamp.epoch_seconds().floor()


def _days(seconds: ir.NumericValue) -> ir.FloatingValue:
    return seconds.cast("float64") / DAY_SECONDS


def _within(age_s: ir.IntegerValue, days: int) -> ir.BooleanValue:
    return age_s <= days * DAY_SECONDS


def _holding_features(inputs, as_of, product_ids):
    """Products held, opened and closed as of D (and, for labels, at the horizon's end)."""
    h = inputs.holdings.join(inputs.products.select("product_id", "family"), "product_id")
    h = h.cross_join(as_of)
    h = h.filter(h.opened_at < h.as_of)
    opened_s = _epoch(h.opened_at)
    # closed_at on or after D is unknown as of D, so it must read exactly like "still open".
    closed_before = h.closed_at.notnull() & (h.closed_at < h.as_of)
    closed_s = ibis.cases((closed_before, _epoch(h.closed_at)), else_=ibis.null("int64"))
    is_open = ~closed_before
    age_open = h.as_of_s - opened_s
    age_closed = h.as_of_s - closed_s
    metrics = {
        "products_held": _count_if(is_open),
        "products_ever": h.product_id.count(),
        "first_opened_s": opened_s.min(),
        "last_opened_s": opened_s.max(),
        "last_closed_s": closed_s.max(),
        "products_closed_90d": _count_if(closed_before & _within(age_closed, 90)),
        "products_closed_365d": _count_if(closed_before & _within(age_closed, 365)),
        "products_opened_365d": _count_if(_within(age_open, 365)),
        **{
            f"held_family__{family}": _count_if(is_open & (h.family == family))
            for family in PRODUCT_FAMILIES
        },
        **{held_column(pid): _count_if(is_open & (h.product_id == pid)) for pid in product_ids},
    }
    return h.group_by(*KEYS).aggregate(**metrics)


def _population(customers, as_of, holdings, config):
    """Who is a customer at D: a product open, or the last one closed within the lookback."""
    c = customers.cross_join(as_of)
    c = c.filter(c.joined_at.cast("timestamp") < c.as_of)
    c = c.inner_join(holdings, list(KEYS))
    lookback_s = config.tiers.churned_lookback_days * DAY_SECONDS
    c = c.filter(
        (c.products_held > 0)
        | (c.last_closed_s.notnull() & (c.as_of_s - c.last_closed_s <= lookback_s))
    )
    return c.mutate(
        age_years=_days(c.as_of_s - _epoch(c.birth_date.cast("timestamp"))) / 365.25,
        tenure_days=_days(c.as_of_s - _epoch(c.joined_at.cast("timestamp"))),
    )


def _transaction_features(transactions, as_of, config):
    """Aggregates over the look-back windows, in two steps to keep the big scan light.

    Step 1 sums each customer's transactions per window bucket (the smallest window holding
    the transaction) with a dozen aggregates; step 2 adds buckets up into every window. On
    83 M transactions this query took 10 s against 25.8 s for one FILTER aggregate per feature.
    """
    windows = config.windows_days
    t = transactions.join(
        as_of,
        [
            transactions.ts < as_of.as_of,
            transactions.ts >= as_of.as_of - ibis.interval(days=max(windows)),
        ],
    )
    bucket = ibis.cases(
        *[(t.ts >= t.as_of - ibis.interval(days=w), index) for index, w in enumerate(windows)],
        else_=len(windows) - 1,
    )
    t = t.mutate(bucket=bucket)
    credit = t.direction == "credit"
    salary = t.counterparty_type.isin(SALARY_COUNTERPARTIES) & credit

    # `sum(CASE WHEN … THEN amount END)` runs ~20 % faster in DuckDB than FILTER clauses
    # or 0/1 factors (measured on 83 M transactions).
    def amount_if(condition):
        return _value_if(condition, t.amount).sum()

    b = t.group_by(*KEYS, "bucket").aggregate(
        txn_count=t.amount.count(),
        credit_sum=amount_if(credit),
        debit_sum=amount_if(t.direction == "debit"),
        salary_sum=amount_if(salary),
        salary_count=_count_if(salary),
        transfer_out_other_bank_sum=amount_if(t.counterparty_type == "transfer_out_other_bank"),
        fee_sum=amount_if(t.counterparty_type == "fee"),
        **{
            f"txn_count_{channel}": _count_if(t.channel == channel)
            for channel in TRANSACTION_CHANNELS
        },
        last_ts=t.ts.max(),
        last_salary_ts=_value_if(salary, t.ts).max(),
        as_of_s=t.as_of_s.max(),
    )
    summed = [
        "txn_count",
        "credit_sum",
        "debit_sum",
        "salary_sum",
        "transfer_out_other_bank_sum",
        "fee_sum",
    ]
    channels = [f"txn_count_{channel}" for channel in TRANSACTION_CHANNELS]
    inside = {w: b.bucket <= index for index, w in enumerate(windows)}
    metrics: dict[str, ir.Value] = {
        f"{name}_{w}d": _value_if(inside[w], b[name]).sum()
        for w in windows
        for name in [*summed, *channels]
    }
    # The configuration guarantees these windows exist (trend and salary features use them).
    metrics |= {
        "digital_count_90d": sum(metrics[f"txn_count_{c}_90d"] for c in DIGITAL_CHANNELS),
        "age_last_txn_s": b.as_of_s.max() - _epoch(b.last_ts.max()),
        "age_last_salary_s": b.as_of_s.max() - _epoch(b.last_salary_ts.max()),
        # Salary is monthly: credits in 180 days count the months it was paid.
        "salary_credits_180d": _value_if(inside[180], b.salary_count).sum(),
    }
    return b.group_by(*KEYS).aggregate(**metrics)


def _interaction_features(interactions, as_of, config):
    # A year of history, but complaints from any time: one raised long ago and still open
    # is exactly what a caller must know about.
    i = interactions.join(
        as_of,
        [
            interactions.ts < as_of.as_of,
            (interactions.ts >= as_of.as_of - ibis.interval(days=365))
            | (interactions.kind == "complaint"),
        ],
    )
    age = i.as_of_s - _epoch(i.ts)
    complaint = i.kind == "complaint"
    complaint_year = complaint & _within(age, 365)
    resolved_before = i.resolved_at.notnull() & (i.resolved_at < i.as_of)
    resolution_hours = (_epoch(i.resolved_at) - _epoch(i.ts)).cast("float64") / 3600
    open_hours = age.cast("float64") / 3600
    sla_hours = ibis.cases(
        (i.severity >= 3, config.major_complaint_sla_hours), else_=config.complaint_sla_hours
    )
    breached = ibis.cases(
        (resolved_before, resolution_hours > sla_hours), else_=open_hours > sla_hours
    )
    login = i.kind == "digital_login"
    callback = i.kind == "callback"
    rated = i.satisfaction.notnull()
    resolved_age = i.as_of_s - _epoch(i.resolved_at)
    return i.group_by(*KEYS).aggregate(
        complaint_count_90d=_count_if(complaint & _within(age, 90)),
        complaint_count_365d=_count_if(complaint_year),
        complaint_open=_count_if(complaint & ~resolved_before),
        complaint_max_severity_365d=_value_if(complaint_year, i.severity).max(),
        complaint_resolution_hours_mean_365d=_value_if(
            complaint_year & resolved_before, resolution_hours
        ).mean(),
        complaint_sla_breach_365d=_count_if(complaint_year & breached),
        age_last_complaint_s=_value_if(complaint, age).min(),
        age_complaint_resolved_s=_value_if(complaint & resolved_before, resolved_age).min(),
        service_request_count_90d=_count_if((i.kind == "service_request") & _within(age, 90)),
        callback_count_365d=_count_if(callback),
        callback_reached_365d=_count_if(callback & (i.outcome == "reached")),
        age_last_callback_s=_value_if(callback, age).min(),
        satisfaction_mean_365d=_value_if(rated, i.satisfaction.cast("float64")).mean(),
        satisfaction_last=i.satisfaction.cast("float64").argmin(age, where=rated),
        login_count_30d=_count_if(login & _within(age, 30)),
        login_count_90d=_count_if(login & _within(age, 90)),
        age_last_login_s=_value_if(login, age).min(),
        branch_visit_count_90d=_count_if((i.kind == "branch_visit") & _within(age, 90)),
    )


def _balance_features(balances, products, as_of):
    """Month-end balances; a snapshot dated D is known from D + 1 on."""
    b = balances.join(products.select("product_id", "family"), "product_id")
    b = b.join(
        as_of,
        [
            b.snapshot_date.cast("timestamp") < as_of.as_of,
            b.snapshot_date.cast("timestamp") >= as_of.as_of - ibis.interval(days=190),
        ],
    )
    monthly = b.group_by(*KEYS, "snapshot_date").aggregate(
        assets=_value_if(b.family.isin(ASSET_FAMILIES), b.balance).sum(),
        debt=_value_if(b.family.isin(DEBT_FAMILIES), b.balance).sum(),
        current=_value_if(b.family == "current_account", b.balance).sum(),
        as_of_s=b.as_of_s.max(),
    )
    age = monthly.as_of_s - _epoch(monthly.snapshot_date.cast("timestamp"))
    assets = monthly.assets.fill_null(0.0)
    return monthly.group_by(*KEYS).aggregate(
        assets_latest=assets.argmax(monthly.snapshot_date),
        debt_latest=monthly.debt.fill_null(0.0).argmax(monthly.snapshot_date),
        current_balance_latest=monthly.current.argmax(monthly.snapshot_date),
        assets_mean_6m=assets.mean(),
        assets_std_6m=assets.std(how="pop"),
        assets_3m_ago=assets.argmin(monthly.snapshot_date, where=age <= 100 * DAY_SECONDS),
    )


def _derived(t: ir.Table, config: FeaturesConfig, has_balances: bool) -> ir.Table:
    """Ratios, recencies, flags and the tier, from the aggregates."""
    zero_if_null = [
        name
        for name in t.columns
        if name.startswith(
            (
                "txn_count_",
                "credit_sum_",
                "debit_sum_",
                "salary_sum_",
                "transfer_out_",
                "fee_sum_",
                "complaint_count",
                "complaint_open",
                "complaint_sla",
                "service_request",
                "callback_",
                "login_count",
                "branch_visit",
                "digital_count",
                "salary_credits",
            )
        )
    ]
    t = t.mutate(**{name: t[name].fill_null(0) for name in zero_if_null})
    if not has_balances:
        t = t.mutate(
            **{
                name: ibis.null("float64")
                for name in (
                    "assets_latest",
                    "debt_latest",
                    "current_balance_latest",
                    "assets_mean_6m",
                    "assets_std_6m",
                    "assets_3m_ago",
                )
            }
        )
    salary_gap_s = config.salary_gap_days * DAY_SECONDS
    t = t.mutate(
        # Monthly rate in the last 30 days against the two months before; 1 = steady.
        txn_count_trend=(t.txn_count_30d + 1) / ((t.txn_count_90d - t.txn_count_30d) / 2 + 1),
        debit_sum_trend=(t.debit_sum_30d + 1) / ((t.debit_sum_90d - t.debit_sum_30d) / 2 + 1),
        net_flow_90d=t.credit_sum_90d - t.debit_sum_90d,
        digital_share_90d=t.digital_count_90d / t.txn_count_90d.nullif(0),
        days_since_last_txn=_days(t.age_last_txn_s),
        days_since_last_salary=_days(t.age_last_salary_s),
        salary_present=(t.age_last_salary_s.notnull() & (t.age_last_salary_s <= salary_gap_s)).cast(
            "float64"
        ),
        # A regular payer (2+ months in the last half year) whose salary has not arrived.
        salary_stopped=((t.salary_credits_180d >= 2) & (t.age_last_salary_s > salary_gap_s)).cast(
            "float64"
        ),
        days_since_last_product_closed=_days(t.as_of_s - t.last_closed_s),
        days_since_last_product_opened=_days(t.as_of_s - t.last_opened_s),
        product_tenure_days=_days(t.as_of_s - t.first_opened_s),
        days_since_last_complaint=_days(t.age_last_complaint_s),
        days_since_complaint_resolved=_days(t.age_complaint_resolved_s),
        days_since_last_callback=_days(t.age_last_callback_s),
        days_since_last_login=_days(t.age_last_login_s),
        login_trend=(t.login_count_30d + 1) / ((t.login_count_90d - t.login_count_30d) / 2 + 1),
        assets_trend_3m=t.assets_latest - t.assets_3m_ago,
        do_not_contact=t.do_not_contact.fill_null(False).cast("float64"),
    )
    # Customer value for expected-value ranking: assets held, or the monthly flow through
    # the bank for customers without a balance feed.
    t = t.mutate(
        customer_value=ibis.greatest(
            t.assets_latest.fill_null(0.0), t.credit_sum_90d.cast("float64") / 3
        )
    )
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
    return t.mutate(tier=tier)


def _labels(t, inputs, as_of, config, product_ids, extracted_at):
    """Churn and cross-sell outcomes in [D, D + horizon), null when not observable."""
    horizon = ibis.interval(days=config.horizon_days)
    windows = as_of.mutate(horizon_end=as_of.as_of + horizon)
    observable = ibis.literal(True)
    if extracted_at is not None:
        observable = t.as_of + horizon <= ibis.literal(extracted_at)

    h = inputs.holdings.cross_join(windows)
    h = h.filter(h.opened_at < h.horizon_end)
    end_state = h.group_by(*KEYS).aggregate(
        open_at_horizon_end=_count_if(h.closed_at.isnull() | (h.closed_at >= h.horizon_end)),
        **{
            f"opened__{pid}": _count_if((h.product_id == pid) & (h.opened_at >= h.as_of))
            for pid in product_ids
        },
    )
    t = _left_join(t, end_state)
    active = t.products_held > 0
    churn_applies = active

    if config.churn.kind == "all_products_closed":
        churned = t.open_at_horizon_end.fill_null(0) == 0
    else:
        t = _join_inactivity_outcome(t, inputs, windows, config)
        churned = t.inactive_at_horizon_end
        # Only someone still active can become inactive; cross-sell is unaffected.
        churn_applies = active & (t.txn_before.fill_null(0) > 0)
    label_churn = ibis.cases(
        (observable & churn_applies, churned.cast("float64")), else_=ibis.null("float64")
    )
    xsell = {
        f"{LABEL_XSELL_PREFIX}{pid}": ibis.cases(
            (
                observable & active & (t[held_column(pid)] == 0),
                (t[f"opened__{pid}"].fill_null(0) > 0).cast("float64"),
            ),
            else_=ibis.null("float64"),
        )
        for pid in product_ids
    }
    return t.mutate(**{LABEL_CHURN: label_churn}, **xsell)


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
        txn_before=_count_if(tx.ts < tx.as_of),
        txn_late=_count_if(tx.ts >= tx.horizon_end - inactivity),
    )
    t = _left_join(t, counts)
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
        t = _left_join(t, end_balance)
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


def _output_columns(t, config, product_ids, with_labels):
    numeric = _numeric_names(config)
    columns = [
        t.customer_id.cast("string").name("customer_id"),
        t.as_of.cast("timestamp").name("as_of"),
        *[t[name].cast("float64").name(name) for name in numeric],
        *[t[name].cast("string").name(name) for name in CATEGORICAL_FEATURES],
        # Which catalogue products are open at D: cross-sell inputs, and what serving must
        # never offer again.
        *[
            t[held_column(pid)].fill_null(0).cast("float64").name(held_column(pid))
            for pid in product_ids
        ],
    ]
    if with_labels:
        columns.append(t[LABEL_CHURN])
        columns += [t[f"{LABEL_XSELL_PREFIX}{pid}"] for pid in product_ids]
    return columns
