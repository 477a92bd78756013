"""Transaction features: activity, money flows and salary over the look-back windows."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from common.config import FeaturesConfig
from features.expressions import DAY_SECONDS, KEYS, count_if, days, epoch, value_if
from features.schema import TRANSACTION_CHANNELS
from features.spec import Feature, FeatureFamily, PerWindow

SALARY_COUNTERPARTIES = ("salary", "pension")
DIGITAL_CHANNELS = ("online", "mobile")

FAMILY = FeatureFamily(
    name="transactions",
    description=(
        "From `transactions` stamped in the longest window before D (365 days by default)."
    ),
    features=(
        PerWindow(
            (
                Feature("txn_count_{w}d", "transactions", missing="zero"),
                Feature("credit_sum_{w}d", "money in", missing="zero"),
                Feature("debit_sum_{w}d", "money out", missing="zero"),
                Feature("salary_sum_{w}d", "salary and pension credits", missing="zero"),
                Feature(
                    "transfer_out_other_bank_sum_{w}d",
                    "money leaving for another bank (a classic warning sign)",
                    missing="zero",
                ),
                Feature("fee_sum_{w}d", "fees charged", missing="zero"),
                Feature(
                    "txn_count_{channel}_{w}d",
                    "transactions on that channel",
                    missing="zero",
                ),
            )
        ),
        Feature(
            "txn_count_trend",
            "transactions in the last 30 days against the monthly rate of the 60 days before "
            "(1 = steady)",
            window_days=90,
        ),
        Feature("debit_sum_trend", "the same for money out", window_days=90),
        Feature("net_flow_90d", "credits − debits", window_days=90),
        Feature("days_since_last_txn", "recency (null = none in the longest window)"),
        Feature("days_since_last_salary", "recency (null = none in the longest window)"),
        Feature(
            "salary_credits_180d",
            "salary or pension credits (monthly payers: the months paid)",
            window_days=180,
            missing="zero",
        ),
        Feature("salary_present", "1 if a salary came within `features.salary_gap_days`"),
        Feature(
            "salary_stopped",
            "1 for a regular payer (2+ months in 180 days) whose salary has not come for "
            "`salary_gap_days`",
        ),
        Feature(
            "digital_share_90d",
            "online + mobile share of transactions (null = none)",
            window_days=90,
        ),
    ),
)


def transaction_features(
    transactions: ir.Table, as_of: ir.Table, config: FeaturesConfig
) -> ir.Table:
    """Aggregates over the look-back windows, in two steps to keep the big scan light.

    Step 1 sums each customer's transactions per window bucket (the smallest window holding
    the transaction) with a dozen aggregates; step 2 adds buckets up into every window. On
    83 M transactions this query took 10 s against 25.8 s for one FILTER aggregate per feature.
    Helpers `_age_last_txn_s` and `_age_last_salary_s` (seconds before D) feed the recencies
    and salary flags.
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
        return value_if(condition, t.amount).sum()

    b = t.group_by(*KEYS, "bucket").aggregate(
        txn_count=t.amount.count(),
        credit_sum=amount_if(credit),
        debit_sum=amount_if(t.direction == "debit"),
        salary_sum=amount_if(salary),
        salary_count=count_if(salary),
        transfer_out_other_bank_sum=amount_if(t.counterparty_type == "transfer_out_other_bank"),
        fee_sum=amount_if(t.counterparty_type == "fee"),
        **{
            f"txn_count_{channel}": count_if(t.channel == channel)
            for channel in TRANSACTION_CHANNELS
        },
        last_ts=t.ts.max(),
        last_salary_ts=value_if(salary, t.ts).max(),
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
    return b.group_by(*KEYS).aggregate(
        **{
            f"{name}_{w}d": value_if(inside[w], b[name]).sum()
            for w in windows
            for name in [*summed, *channels]
        },
        # The configuration guarantees the 180-day window exists. Salary is monthly: credits
        # in 180 days count the months it was paid.
        salary_credits_180d=value_if(inside[180], b.salary_count).sum(),
        _age_last_txn_s=b.as_of_s.max() - epoch(b.last_ts.max()),
        _age_last_salary_s=b.as_of_s.max() - epoch(b.last_salary_ts.max()),
    )


def derived_features(t: ir.Table, config: FeaturesConfig) -> dict[str, ir.Value]:
    """Trends, recencies, salary flags and the digital share, from the filled aggregates.

    The configuration guarantees the 30- and 90-day windows these read.
    """
    salary_gap_s = config.salary_gap_days * DAY_SECONDS
    age_last_salary_s = t["_age_last_salary_s"]
    digital_90d = sum(t[f"txn_count_{channel}_90d"] for channel in DIGITAL_CHANNELS)
    return {
        # Monthly rate in the last 30 days against the two months before; 1 = steady.
        "txn_count_trend": (t.txn_count_30d + 1) / ((t.txn_count_90d - t.txn_count_30d) / 2 + 1),
        "debit_sum_trend": (t.debit_sum_30d + 1) / ((t.debit_sum_90d - t.debit_sum_30d) / 2 + 1),
        "net_flow_90d": t.credit_sum_90d - t.debit_sum_90d,
        "days_since_last_txn": days(t["_age_last_txn_s"]),
        "days_since_last_salary": days(age_last_salary_s),
        "salary_present": (age_last_salary_s.notnull() & (age_last_salary_s <= salary_gap_s)).cast(
            "float64"
        ),
        # A regular payer (2+ months in the last half year) whose salary has not arrived.
        "salary_stopped": ((t.salary_credits_180d >= 2) & (age_last_salary_s > salary_gap_s)).cast(
            "float64"
        ),
        "digital_share_90d": digital_90d / t.txn_count_90d.nullif(0),
    }
