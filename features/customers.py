"""Customer features: who the customer is at D, from the `customers` record."""

from __future__ import annotations

import ibis.expr.types as ir

from features.expressions import KEYS, days, epoch
from features.schema import CONTACT_CHANNELS, GENDERS, INCOME_BANDS, SEGMENTS
from features.spec import AS_OF_SECONDS, Feature, FeatureFamily

FAMILY = FeatureFamily(
    name="customers",
    description=(
        "From the customer record. Attributes are taken as static: the contract asks banks "
        "not to export a column they update when a customer leaves."
    ),
    features=(
        Feature("age_years", "age at D"),
        Feature("tenure_days", "days since the customer joined"),
        Feature(
            "risk_appetite", "from the suitability questionnaire, 1 (cautious) to 5 (speculative)"
        ),
        Feature("do_not_contact", "1 if the customer refused marketing contact", missing="zero"),
        Feature("gender", "self-declared gender", dtype="string", levels=GENDERS),
        Feature("region", "home region or district", dtype="string"),
        Feature("income_band", "declared income band", dtype="string", levels=INCOME_BANDS),
        Feature(
            "preferred_channel",
            "channel the customer wants to be contacted on",
            dtype="string",
            levels=CONTACT_CHANNELS,
        ),
        Feature("segment", "the bank's commercial segment", dtype="string", levels=SEGMENTS),
    ),
)


def customer_features(customers: ir.Table, as_of: ir.Table) -> ir.Table:
    """One row per customer who joined before D, per as-of date, with their features."""
    c = customers.cross_join(as_of)
    c = c.filter(c.joined_at.cast("timestamp") < c.as_of)
    return c.select(
        *KEYS,
        AS_OF_SECONDS,
        age_years=days(c.as_of_s - epoch(c.birth_date.cast("timestamp"))) / 365.25,
        tenure_days=days(c.as_of_s - epoch(c.joined_at.cast("timestamp"))),
        risk_appetite=c.risk_appetite,
        do_not_contact=c.do_not_contact.cast("float64"),
        gender=c.gender,
        region=c.region,
        income_band=c.income_band,
        preferred_channel=c.preferred_channel,
        segment=c.segment,
    )
