"""Customer features: who the customer is at D, from `customers` and the attribute history."""

from __future__ import annotations

import ibis.expr.types as ir

from features.attributes import attributes_as_of
from features.expressions import KEYS, days, epoch
from features.schema import CONTACT_CHANNELS, GENDERS, INCOME_BANDS, SEGMENTS
from features.spec import AS_OF_SECONDS, Feature, FeatureFamily

FAMILY = FeatureFamily(
    name="customers",
    description=(
        "From the customer record; the attributes a bank changes (segment, income band, "
        "risk appetite, preferred channel, do-not-contact, region) from the version of "
        "`customer_attributes` in force just before D. Where no version is in force, or the "
        "extract has no history, they are the `customers` values at extraction, and the "
        "feature build says for what share of rows (see Point in time)."
    ),
    features=(
        Feature("age_years", "age at D"),
        Feature("tenure_days", "days since the customer joined"),
        Feature(
            "days_since_attribute_change",
            "days since the version of the attributes in force at D began (null = the "
            "customer's first version, or no history): a segment, band, channel or "
            "do-not-contact change is often a reaction to an event",
        ),
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


def customer_features(
    customers: ir.Table, as_of: ir.Table, history: ir.Table | None = None
) -> ir.Table:
    """One row per customer who joined before D, per as-of date, with their features.

    Args:
        customers: validated `customers`.
        as_of: the as-of dates (`as_of`, `as_of_s`).
        history: validated `customer_attributes`, or None (attributes as of extraction).
    """
    c = customers.cross_join(as_of)
    c = c.filter(c.joined_at.cast("timestamp") < c.as_of)
    c = attributes_as_of(c, history, as_of)
    return c.select(
        *KEYS,
        AS_OF_SECONDS,
        age_years=days(c.as_of_s - epoch(c.birth_date.cast("timestamp"))) / 365.25,
        tenure_days=days(c.as_of_s - epoch(c.joined_at.cast("timestamp"))),
        days_since_attribute_change=days(c.as_of_s - epoch(c._attribute_changed_at)),
        risk_appetite=c.risk_appetite,
        do_not_contact=c.do_not_contact.cast("float64"),
        gender=c.gender,
        region=c.region,
        income_band=c.income_band,
        preferred_channel=c.preferred_channel,
        segment=c.segment,
    )
