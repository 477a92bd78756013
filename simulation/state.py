"""The synthetic bank's state: who the customers are, what they hold, where they stand.

Arrays are indexed by customer (customer-id order) and, for holdings, by product (the
index into `catalogue.CATALOGUE`). `BankState` is mutated in place month by month: copying
the customer-by-product arrays every month would double peak memory for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.timeline import DAYS_PER_MONTH, DAYS_PER_YEAR, Window


@dataclass(frozen=True)
class Population:
    """Static attributes of every customer the bank will have, in customer-id order."""

    birth_day: np.ndarray  # int32 days since the epoch
    joined_day: np.ndarray  # int32 days since the epoch
    active_from_us: np.ndarray  # when the current account was opened, on joined_day
    join_month: np.ndarray  # simulated month of arrival, -1 for customers before the start
    gender: np.ndarray  # index into GENDERS
    region: np.ndarray  # index into REGIONS
    income: np.ndarray  # monthly net income
    income_band: np.ndarray  # index into INCOME_BANDS
    segment: np.ndarray  # index into SEGMENTS
    risk_appetite: np.ndarray  # 1..5
    preferred_channel: np.ndarray  # index into CONTACT_CHANNELS
    do_not_contact: np.ndarray
    digital: np.ndarray  # 0..1: how much the customer banks in the app rather than a branch
    activity: np.ndarray  # spending activity relative to the bank's average
    engagement_mean: np.ndarray  # the level engagement returns to
    income_kind: np.ndarray  # 0 no income paid in here, 1 salary, 2 pension
    pay_day: np.ndarray  # day of month the salary or pension arrives
    n_bills: np.ndarray  # direct debits a month
    spend_ratio: np.ndarray  # share of income spent by card and cash
    monthly_fee: np.ndarray

    @property
    def size(self) -> int:
        return self.birth_day.size

    def age_on(self, day: int) -> np.ndarray:
        """Each customer's age in years on a day (days since the epoch)."""
        return (day - self.birth_day) / DAYS_PER_YEAR

    def tenure_months_on(self, day: int) -> np.ndarray:
        """Months each customer has been with the bank on a day, negative before joining."""
        return (day - self.joined_day) / DAYS_PER_MONTH


@dataclass
class BankState:
    """What changes month by month, for every customer and (customer, product)."""

    held: np.ndarray  # bool [customers, products]
    opened_us: np.ndarray  # int64 [customers, products], valid where held
    account_no: np.ndarray  # int64 [customers, products], valid where held
    balance: np.ndarray  # float64: asset balance, or debt outstanding on loans
    terms: np.ndarray  # float64: card limit, insurance premium or monthly loan repayment
    engagement: np.ndarray  # latent engagement / satisfaction, around engagement_mean
    grievance: np.ndarray  # decaying weight of recent complaints, slow and unresolved ones most
    leaving: np.ndarray  # in the pre-churn countdown
    close_month: np.ndarray  # month all holdings close, -1 if not leaving
    churn_us: np.ndarray  # when the last holding closes, valid where close_month >= 0
    redirected: np.ndarray  # salary or pension now paid into another bank
    churned: np.ndarray
    next_account_no: int
    # Effect of the last retention call: factors on the hazard and on adoption, in force
    # while the month index is below `call_until`.
    call_until: np.ndarray
    call_hazard: np.ndarray
    call_adoption: np.ndarray


@dataclass(frozen=True)
class Month:
    """Where every customer stands in the month being simulated, once churn is decided.

    Attributes:
        index: The month's index in the simulation, 0 for the first.
        at_risk: With the bank at the month's start and not churned.
        arriving: Joins the bank during the month.
        closing: Closes their last holding during the month.
        counting_down: Leaving, but not this month: shows the warning signs.
        window: Each customer's slice of the month.
    """

    index: int
    at_risk: np.ndarray
    arriving: np.ndarray
    closing: np.ndarray
    counting_down: np.ndarray
    window: Window
