"""Reasons a caller can act on: events before who the customer is, never an event older
than the longest window; offers say why the product suits, with its name."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from serving.offers import offer_reason
from serving.reasons import is_event, top_reasons

AS_OF = datetime(2025, 3, 1)
NAMES = [
    "age_years",
    "days_since_complaint_resolved",
    "transfer_out_other_bank_sum_90d",
    "tenure_days",
    "login_trend",
    "fee_sum_30d",
    "fee_sum_90d",
]


def reasons_for(contributions: list[float], row: dict, count: int = 3) -> list[str]:
    found = top_reasons(np.array([contributions]), [row], NAMES, AS_OF, count, max_age_days=365)
    return [reason["feature"] for reason in found[0]]


ROW = {
    "age_years": 37.0,
    "days_since_complaint_resolved": 669.0,
    "transfer_out_other_bank_sum_90d": 4200.0,
    "tenure_days": 3000.0,
    "login_trend": 0.4,
    "fee_sum_30d": 12.0,
    "fee_sum_90d": 30.0,
}


def test_events_come_before_profile_features_whatever_their_weight():
    # Age pushes hardest, then the stale resolution, then money leaving, tenure, logins.
    chosen = reasons_for([0.9, 0.8, 0.5, 0.4, 0.2, 0.1, 0.05], ROW)
    assert chosen == ["transfer_out_other_bank_sum_90d", "login_trend", "fee_sum_30d"]


def test_profile_features_fill_in_only_when_events_are_too_few():
    # Only money leaving is an event pushing up; age and tenure follow, strongest first.
    chosen = reasons_for([0.3, 0.0, 0.5, 0.6, -0.2, -0.1, -0.1], ROW)
    assert chosen == ["transfer_out_other_bank_sum_90d", "tenure_days", "age_years"]


def test_an_event_older_than_the_longest_window_is_never_a_reason():
    chosen = reasons_for([0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0], ROW)
    assert chosen == []  # "complaint resolved 669 days ago" is not said
    recent = ROW | {"days_since_complaint_resolved": 20.0}
    assert reasons_for([0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0], recent) == [
        "days_since_complaint_resolved"
    ]
    assert not is_event("days_since_complaint_resolved", 669.0)
    assert is_event("days_since_complaint_resolved", 20.0) and not is_event("age_years", 37.0)


def test_one_reason_per_window_family():
    chosen = reasons_for([0.0, 0.0, 0.0, 0.0, 0.0, 0.6, 0.7], ROW)
    assert chosen == ["fee_sum_90d"]


def test_an_offer_says_why_the_product_suits():
    savings = pd.Series({"family": "savings", "risk_level": 1, "name": "Savings account"})
    row = {"held_family__savings": 0.0, "salary_present": 1.0, "risk_appetite": 3.0}
    text = offer_reason(savings, "4,200 paid in over 30 days", row)
    assert text == (
        "no savings product yet; 4,200 paid in over 30 days; salary paid here; "
        "risk 1 within appetite 3 of 5"
    )
    # Already holds one of the kind, salary elsewhere, appetite unknown, no event.
    held = {"held_family__savings": 1.0, "salary_present": 0.0, "risk_appetite": None}
    assert offer_reason(savings, None, held) == (
        "the best expected value among the eligible products"
    )
