"""The synthetic bank's state: who the customers are, what they hold, where they stand.

Arrays are indexed by customer (customer-id order) and, for holdings, by product (the
index into `catalogue.CATALOGUE`). `BankState` is mutated in place month by month: copying
the customer-by-product arrays every month would double peak memory for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from common.config import SynthMechanisms
from simulation.economy import Economy
from simulation.timeline import DAYS_PER_MONTH, DAYS_PER_YEAR, Calendar, Window

# Routes out of the bank once a customer has decided to leave.
STAYING, CLOSING, GOING_DORMANT = 0, 1, 2
# Warning signs, bits of `BankState.signs` (leavers) and `BankState.dip_signs` (dips).
SALARY_SIGN, MONEY_SIGN, LOGINS_SIGN, SPENDING_SIGN = 1, 2, 4, 8
# Why a customer closed everything without deciding to: `BankState.noise_cause`.
BANK_CLOSURE, DEATH = 1, 2  # 0: none
NEVER_DECIDED = -(1 << 30)  # `BankState.decided_month` of a customer not leaving


@dataclass
class Profile:
    """The attributes a bank changes over time, plus the income behind the income band.

    One array per attribute, indexed by customer; `BankState.profile` holds the values in
    force at the month's start and `Population.first_profile` those when joining (or at the
    start, for customers already there).
    """

    segment: np.ndarray  # index into SEGMENTS
    income_band: np.ndarray  # index into INCOME_BANDS
    risk_appetite: np.ndarray  # 1..5
    preferred_channel: np.ndarray  # index into CONTACT_CHANNELS
    do_not_contact: np.ndarray
    region: np.ndarray  # index into REGIONS
    income: np.ndarray  # monthly net income

    def copy(self) -> Profile:
        return Profile(**{f.name: getattr(self, f.name).copy() for f in fields(self)})


@dataclass(frozen=True)
class Population:
    """What does not change about every customer the bank will have, in customer-id order."""

    birth_day: np.ndarray  # int32 days since the epoch
    joined_day: np.ndarray  # int32 days since the epoch
    active_from_us: np.ndarray  # when the current account was opened, on joined_day
    join_month: np.ndarray  # simulated month of arrival, -1 for customers before the start
    gender: np.ndarray  # index into GENDERS
    first_profile: Profile  # the changeable attributes when joining (or at the start)
    digital: np.ndarray  # 0..1: how much the customer banks in the app rather than a branch
    activity: np.ndarray  # spending activity relative to the bank's average
    engagement_mean: np.ndarray  # the level engagement returns to
    income_kind: np.ndarray  # 0 no income paid in here, 1 salary, 2 pension
    pay_day: np.ndarray  # day of month the salary or pension arrives
    n_bills: np.ndarray  # direct debits a month
    spend_ratio: np.ndarray  # share of income spent by card and cash
    # Unobserved: a multiplier on the churn hazard (1 without frailty), and whether the
    # customer moves savings for a better rate. Never written to a contract table.
    frailty: np.ndarray
    rate_sensitive: np.ndarray

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

    profile: Profile  # the changeable attributes in force
    held: np.ndarray  # bool [customers, products]
    opened_us: np.ndarray  # int64 [customers, products], valid where held
    account_no: np.ndarray  # int64 [customers, products], valid where held
    fixed_until_day: np.ndarray  # int32 [customers, products]: end of a fixed period, -1 none
    balance: np.ndarray  # float64: asset balance, or debt outstanding on loans
    terms: np.ndarray  # float64: card limit, insurance premium or monthly loan repayment
    engagement: np.ndarray  # latent engagement / satisfaction, around engagement_mean
    grievance: np.ndarray  # decaying weight of recent complaints, slow and unresolved ones most
    # Leaving: decided, and counting down to closing everything or sliding into dormancy.
    leaving: np.ndarray
    route: np.ndarray  # int8: CLOSING or GOING_DORMANT once decided, STAYING otherwise
    decided_month: np.ndarray  # month the customer decided to leave (negative: before the start)
    close_month: np.ndarray  # month all holdings close, -1 if not closing
    churn_us: np.ndarray  # when the last holding closes, valid where close_month >= 0
    gone_month: np.ndarray  # month a customer sliding into dormancy goes silent, -1 if not
    gone_us: np.ndarray  # when they make their last move, valid where gone_month >= 0
    dormant: np.ndarray  # gone silent: no own transaction or contact since, never closes
    signs: np.ndarray  # uint8: the warning signs a leaver shows (SALARY_SIGN | ...)
    noise_cause: np.ndarray  # int8: BANK_CLOSURE or DEATH for a closure nobody decided
    # A look-alike dip: the signs it shows, until the month index `dip_until` (exclusive).
    dip_until: np.ndarray
    dip_signs: np.ndarray
    redirected: np.ndarray  # salary or pension now paid into another bank
    churned: np.ndarray
    next_account_no: int
    # Effect of the last retention call: factors on the hazard and on adoption, in force
    # while the month index is below `call_until`.
    call_until: np.ndarray
    call_hazard: np.ndarray
    call_adoption: np.ndarray


@dataclass(frozen=True)
class Bank:
    """The bank being simulated: its customers, their state, its calendar of months and of
    outside events, and the mechanisms switched on."""

    population: Population
    state: BankState
    calendar: Calendar
    economy: Economy
    mechanisms: SynthMechanisms


@dataclass(frozen=True)
class Month:
    """Where every customer stands in the month being simulated, once churn is decided.

    Attributes:
        index: The month's index in the simulation, 0 for the first.
        at_risk: With the bank at the month's start and not churned.
        arriving: Joins the bank during the month.
        closing: Closes their last holding during the month.
        going_dormant: Makes their last own move this month and goes silent.
        dormant: Silent since an earlier month: only the bank's own bookings run on (also
            in a month label noise closes them).
        counting_down: Leaving, but not gone this month: may show warning signs.
        salary_missing: A dip keeps this month's salary or pension away.
        moving_money: Moves money to another bank (a leaver's sign, or a dip).
        fewer_logins: Logs in and comes in less (a leaver's sign, or a dip).
        spending_less: Buys less (a leaver's sign, or a dip).
        window: Each customer's slice of the month, for the bank's own bookings.
        own: The slice in which the customer acts: it ends at their last move, and is
            empty for dormant customers.
    """

    index: int
    at_risk: np.ndarray
    arriving: np.ndarray
    closing: np.ndarray
    going_dormant: np.ndarray
    dormant: np.ndarray
    counting_down: np.ndarray
    salary_missing: np.ndarray
    moving_money: np.ndarray
    fewer_logins: np.ndarray
    spending_less: np.ndarray
    window: Window
    own: Window
