"""Interaction features: complaints, service requests, callbacks, satisfaction, logins, visits."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from common.config import FeaturesConfig
from features.expressions import KEYS, count_if, days, epoch, value_if, within
from features.spec import Feature, FeatureFamily

FAMILY = FeatureFamily(
    name="interactions",
    description=(
        "From `interactions` of the year before D, and complaints from any time: one raised "
        "long ago and still open is exactly what a caller must know about. A complaint "
        "resolved on or after D is open as of D."
    ),
    features=(
        Feature("complaint_count_90d", "complaints raised", window_days=90, missing="zero"),
        Feature("complaint_count_365d", "complaints raised", window_days=365, missing="zero"),
        Feature(
            "complaint_open",
            "complaints not resolved before D, however long ago they were raised",
            missing="zero",
        ),
        Feature("complaint_max_severity_365d", "worst severity (3 = major)", window_days=365),
        Feature(
            "complaint_resolution_hours_mean_365d",
            "mean time to resolve, of those resolved before D",
            window_days=365,
        ),
        Feature(
            "complaint_sla_breach_365d",
            "complaints resolved later than the SLA (`features.complaint_sla_hours`, "
            "`major_complaint_sla_hours` for severity 3), or still open past it",
            window_days=365,
            missing="zero",
        ),
        Feature("days_since_last_complaint", "recency (null = never)"),
        Feature("days_since_complaint_resolved", "recency of the last resolution (null = never)"),
        Feature("service_request_count_90d", "service requests", window_days=90, missing="zero"),
        Feature("callback_count_365d", "the bank's callbacks", window_days=365, missing="zero"),
        Feature(
            "callback_reached_365d",
            "callbacks that reached the customer",
            window_days=365,
            missing="zero",
        ),
        Feature("days_since_last_callback", "recency (null = none in the year)"),
        Feature(
            "satisfaction_mean_365d", "survey and callback satisfaction (1–5)", window_days=365
        ),
        Feature("satisfaction_last", "the latest satisfaction given in the year"),
        Feature("login_count_30d", "digital logins", window_days=30, missing="zero"),
        Feature("login_count_90d", "digital logins", window_days=90, missing="zero"),
        Feature(
            "login_trend",
            "logins in the last 30 days against the monthly rate of the 60 days before "
            "(1 = steady)",
            window_days=90,
        ),
        Feature("days_since_last_login", "recency (null = none in the year)"),
        Feature("branch_visit_count_90d", "branch visits", window_days=90, missing="zero"),
    ),
)


def interaction_features(
    interactions: ir.Table, as_of: ir.Table, config: FeaturesConfig
) -> ir.Table:
    """Counts, recencies and satisfaction per customer and as-of date.

    Helpers `_age_last_complaint_s`, `_age_complaint_resolved_s`, `_age_last_callback_s` and
    `_age_last_login_s` (seconds before D) feed the recencies.
    """
    i = interactions.join(
        as_of,
        [
            interactions.ts < as_of.as_of,
            (interactions.ts >= as_of.as_of - ibis.interval(days=365))
            | (interactions.kind == "complaint"),
        ],
    )
    age = i.as_of_s - epoch(i.ts)
    complaint = i.kind == "complaint"
    complaint_year = complaint & within(age, 365)
    resolved_before = i.resolved_at.notnull() & (i.resolved_at < i.as_of)
    resolution_hours = (epoch(i.resolved_at) - epoch(i.ts)).cast("float64") / 3600
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
    resolved_age = i.as_of_s - epoch(i.resolved_at)
    return i.group_by(*KEYS).aggregate(
        complaint_count_90d=count_if(complaint & within(age, 90)),
        complaint_count_365d=count_if(complaint_year),
        complaint_open=count_if(complaint & ~resolved_before),
        complaint_max_severity_365d=value_if(complaint_year, i.severity).max(),
        complaint_resolution_hours_mean_365d=value_if(
            complaint_year & resolved_before, resolution_hours
        ).mean(),
        complaint_sla_breach_365d=count_if(complaint_year & breached),
        _age_last_complaint_s=value_if(complaint, age).min(),
        _age_complaint_resolved_s=value_if(complaint & resolved_before, resolved_age).min(),
        service_request_count_90d=count_if((i.kind == "service_request") & within(age, 90)),
        callback_count_365d=count_if(callback),
        callback_reached_365d=count_if(callback & (i.outcome == "reached")),
        _age_last_callback_s=value_if(callback, age).min(),
        satisfaction_mean_365d=value_if(rated, i.satisfaction.cast("float64")).mean(),
        satisfaction_last=i.satisfaction.cast("float64").argmin(age, where=rated),
        login_count_30d=count_if(login & within(age, 30)),
        login_count_90d=count_if(login & within(age, 90)),
        _age_last_login_s=value_if(login, age).min(),
        branch_visit_count_90d=count_if((i.kind == "branch_visit") & within(age, 90)),
    )


def derived_features(t: ir.Table) -> dict[str, ir.Value]:
    """Recencies in days and the login trend, from the filled aggregates."""
    return {
        "days_since_last_complaint": days(t["_age_last_complaint_s"]),
        "days_since_complaint_resolved": days(t["_age_complaint_resolved_s"]),
        "days_since_last_callback": days(t["_age_last_callback_s"]),
        "days_since_last_login": days(t["_age_last_login_s"]),
        "login_trend": (t.login_count_30d + 1) / ((t.login_count_90d - t.login_count_30d) / 2 + 1),
    }
