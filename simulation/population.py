"""The synthetic bank's customers: who they are, and what they hold when the simulation starts.

`draw_population` draws every customer the bank will have: those with it at the start and
about 1 % of them arriving every month, with their attributes, habits and the unobserved
traits (frailty, rate sensitivity) no table shows. `initial_state` gives the customers
already there their portfolios (fixed periods included), balances and engagement, and puts
those who decided to leave in the months before the start on their way out.
"""

from __future__ import annotations

import numpy as np

from common.config import SynthMechanisms
from features.schema import CONTACT_CHANNELS, GENDERS
from simulation.catalogue import (
    BOND_FUND,
    CLASSIC_CARD,
    CURRENT,
    EQUITY_FUND,
    GOLD_CARD,
    HOME_INSURANCE,
    LIFE_INSURANCE,
    MORTGAGE,
    N_PRODUCTS,
    PENSION_PLAN,
    PERSONAL_LOAN,
    PRODUCT_MIN_AGE,
    REGION_WEIGHTS,
    REGIONS,
    SAVINGS,
    TIME_DEPOSIT,
    suitability,
)
from simulation.departures import LeavingProcess, seed_leavers
from simulation.economy import Economy
from simulation.hazard import churn_hazard, draw_frailty, sigmoid
from simulation.holdings import fixed_until_days, opening_terms
from simulation.state import NEVER_DECIDED, STAYING, Bank, BankState, Population, Profile
from simulation.timeline import (
    DAY_US,
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    HOUR_US,
    Calendar,
    whole_seconds,
)

ARRIVAL_RATE = 0.01  # new customers a month, as a share of the customer base
# How far back each product's opening date may lie, in months (the current account's is
# the joining day).
LOOKBACK_MONTHS = np.array([0, 600, 36, 600, 600, 84, 300, 120, 120, 300, 240, 600])


SMALL_BUSINESS = 3
RATE_SENSITIVE_BASE, RATE_SENSITIVE_DIGITAL = 0.1, 0.35  # chance, rising with digital use


def draw_population(
    rng: np.random.Generator, n_customers: int, calendar: Calendar, mechanisms: SynthMechanisms
) -> Population:
    """Every customer the bank will have, in customer-id (joining) order."""
    joins = _draw_joins(rng, n_customers, calendar)
    age = (int(calendar.month_start_day[0]) - joins["birth_day"]) / DAYS_PER_YEAR
    gender, digital, profile = _draw_profile(rng, age)
    preferred_channel, do_not_contact = _draw_contact_preferences(rng, age, digital)
    first_profile = Profile(
        **profile, preferred_channel=preferred_channel, do_not_contact=do_not_contact
    )
    habits = _draw_banking_habits(rng, age)
    frailty = draw_frailty(rng, n_customers, mechanisms.frailty)
    rate_sensitive = rng.random(n_customers) < (
        RATE_SENSITIVE_BASE + RATE_SENSITIVE_DIGITAL * digital
    )
    return Population(
        **joins,
        gender=gender,
        first_profile=first_profile,
        digital=digital,
        **habits,
        frailty=frailty,
        rate_sensitive=rate_sensitive,
    )


def segment_for(income: np.ndarray, income_band: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """The segment the bank gives an income: affluent from the upper-middle band, private
    from 9,000 a month; small businesses stay small businesses."""
    by_income = np.where(income >= 9000, 2, np.where(income_band >= 3, 1, 0))
    return np.where(segment == SMALL_BUSINESS, SMALL_BUSINESS, by_income).astype(np.int8)


def income_band_for(income: np.ndarray) -> np.ndarray:
    return np.searchsorted([1500, 2200, 3200, 5000], income, side="right").astype(np.int8)


def _draw_joins(
    rng: np.random.Generator, n_customers: int, calendar: Calendar
) -> dict[str, np.ndarray]:
    """Birth and joining days; customer ids are handed out in joining order."""
    months = calendar.months
    start_day = int(calendar.month_start_day[0])
    n_base = max(1, round(n_customers / (1 + ARRIVAL_RATE * months)))
    n_new = n_customers - n_base

    base_age = 18 + 67 * rng.beta(1.7, 2.2, n_base)
    tenure_years = np.minimum.reduce(
        [rng.exponential(8.0, n_base), np.full(n_base, 30.0), base_age - 18]
    )
    base_joined = start_day - np.maximum(2, np.round(tenure_years * DAYS_PER_YEAR))
    base_birth = start_day - np.round(base_age * DAYS_PER_YEAR)
    new_month = rng.integers(0, months, n_new)
    month_days = np.diff(calendar.month_start_day)[new_month]
    new_joined = calendar.month_start_day[new_month] + (rng.random(n_new) * month_days)
    new_joined = np.floor(new_joined)
    new_age = 18 + 60 * rng.beta(1.3, 3.0, n_new)
    new_birth = new_joined - np.round(new_age * DAYS_PER_YEAR)

    joined_day = np.concatenate([base_joined, new_joined]).astype(np.int32)
    order = np.argsort(joined_day, kind="stable")
    joined_day = joined_day[order]
    active_from_us = joined_day.astype(np.int64) * DAY_US + whole_seconds(
        (8 + 10 * rng.random(n_customers)) * HOUR_US
    )
    return {
        "birth_day": np.concatenate([base_birth, new_birth]).astype(np.int32)[order],
        "joined_day": joined_day,
        "active_from_us": active_from_us,
        "join_month": np.concatenate([np.full(n_base, -1), new_month])[order].astype(np.int16),
    }


def _draw_profile(
    rng: np.random.Generator, age: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Gender, how digital each customer is, and region, income, segment and risk appetite.

    Args:
        rng: The bank's generator.
        age: Each customer's age at the start (arrivals are adults when they join).

    Returns:
        Gender, digital (0..1), and the attributes of `Profile` but the contact preferences.
    """
    n = age.size
    gender = rng.choice(len(GENDERS), n, p=[0.49, 0.49, 0.02]).astype(np.int8)
    region = rng.choice(len(REGIONS), n, p=REGION_WEIGHTS).astype(np.int8)
    career = np.clip(1 - ((age - 48) / 30) ** 2, -1, 1)
    log_income = np.log(1800) + 0.4 * career + 0.15 * (region == 0) + rng.normal(0, 0.45, n)
    income = np.exp(log_income) * np.where(age >= 65, 0.75, 1.0)
    income_band = income_band_for(income)
    small_business = (rng.random(n) < 0.07) & (age >= 25) & (age < 70)
    segment = segment_for(income, income_band, np.where(small_business, SMALL_BUSINESS, 0))
    appetite = 2.6 - 0.03 * (age - 45) + 0.35 * (income_band - 2) + rng.normal(0, 0.9, n)
    digital = sigmoid(2.0 - 0.07 * (age - 30) + rng.normal(0, 0.8, n))
    profile = {
        "segment": segment,
        "income_band": income_band,
        "risk_appetite": np.clip(np.round(appetite), 1, 5).astype(np.int8),
        "region": region,
        "income": income,
    }
    return gender, digital, profile


def _draw_contact_preferences(
    rng: np.random.Generator, age: np.ndarray, digital: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Digital customers want the app or e-mail; the others a call, the oldest a visit.

    Returns:
        The preferred channel (index into CONTACT_CHANNELS) and do-not-contact.
    """
    n = age.size
    preferred = preferred_channels(rng.random(n) < digital, rng.random(n), age)
    return preferred, rng.random(n) < 0.03


def preferred_channels(
    prefers_digital: np.ndarray, channel_draw: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """The app or e-mail for digital customers; else a call, or a visit for the oldest."""
    in_person_share = np.clip(0.15 + 0.01 * (age - 40), 0.1, 0.5)
    return np.where(
        prefers_digital,
        np.where(
            channel_draw < 0.6, CONTACT_CHANNELS.index("app"), CONTACT_CHANNELS.index("email")
        ),
        np.where(
            channel_draw < in_person_share,
            CONTACT_CHANNELS.index("in_person"),
            CONTACT_CHANNELS.index("phone"),
        ),
    ).astype(np.int8)


def _draw_banking_habits(rng: np.random.Generator, age: np.ndarray) -> dict[str, np.ndarray]:
    """Spending activity, engagement, income paid in and bills."""
    n = age.size
    activity = rng.lognormal(0, 0.35, n) * np.where(age < 40, 1.1, 1.0)
    engagement_mean = rng.normal(0, 0.5, n)
    pensioner = age >= 65
    income_kind = np.where(
        pensioner, np.where(rng.random(n) < 0.9, 2, 0), np.where(rng.random(n) < 0.65, 1, 0)
    ).astype(np.int8)
    pay_day = np.where(income_kind == 2, rng.integers(1, 6, n), rng.integers(25, 29, n))
    return {
        "activity": activity,
        "engagement_mean": engagement_mean,
        "income_kind": income_kind,
        "pay_day": pay_day.astype(np.int8),
        "n_bills": rng.choice(4, n, p=[0.15, 0.35, 0.35, 0.15]).astype(np.int8),
        "spend_ratio": rng.uniform(0.6, 0.85, n),
    }


def initial_state(
    rng: np.random.Generator,
    population: Population,
    calendar: Calendar,
    economy: Economy,
    mechanisms: SynthMechanisms,
    process: LeavingProcess,
) -> BankState:
    """Portfolios, balances and engagement of the customers already there at the start."""
    n = population.size
    start_us = int(calendar.month_start_us[0])
    base = population.join_month < 0
    profile = population.first_profile.copy()
    age = population.age_on(int(calendar.month_start_day[0]))
    engagement = population.engagement_mean + rng.normal(0, 0.55, n)
    held = _starting_products(rng, population, age, engagement, base)
    opened_us = _opening_times(rng, population, start_us)
    opened_us[~held] = 0

    customer, product = np.nonzero(held)
    elapsed = (start_us - opened_us[customer, product]) / (DAYS_PER_MONTH * DAY_US)
    balance_rows, terms_rows = opening_terms(rng, profile.income, customer, product, elapsed)
    balance = np.zeros((n, N_PRODUCTS))
    terms = np.zeros((n, N_PRODUCTS))
    balance[customer, product] = balance_rows
    terms[customer, product] = terms_rows
    fixed_until_day = np.full((n, N_PRODUCTS), -1, dtype=np.int32)
    fixed_until_day[customer, product] = fixed_until_days(
        rng, product, opened_us[customer, product], mechanisms.lock_in
    )
    # Engaged customers keep more on their current account.
    balance[:, CURRENT] *= np.exp(0.3 * engagement)
    account_no = np.full((n, N_PRODUCTS), -1, dtype=np.int64)
    # Current accounts are numbered by customer, so account 1 belongs to customer 1; every
    # other account gets the next free number when it is opened.
    account_no[:, CURRENT] = np.arange(1, n + 1)
    other = np.nonzero(held[:, 1:])
    account_no[other[0], other[1] + 1] = n + 1 + np.arange(other[0].size)

    state = BankState(
        profile=profile,
        held=held,
        opened_us=opened_us,
        account_no=account_no,
        fixed_until_day=fixed_until_day,
        balance=balance,
        terms=terms,
        engagement=engagement,
        grievance=np.zeros(n),
        leaving=np.zeros(n, dtype=bool),
        route=np.full(n, STAYING, dtype=np.int8),
        decided_month=np.full(n, NEVER_DECIDED, dtype=np.int32),
        close_month=np.full(n, -1, dtype=np.int32),
        churn_us=np.zeros(n, dtype=np.int64),
        gone_month=np.full(n, -1, dtype=np.int32),
        gone_us=np.zeros(n, dtype=np.int64),
        dormant=np.zeros(n, dtype=bool),
        signs=np.zeros(n, dtype=np.uint8),
        noise_cause=np.zeros(n, dtype=np.int8),
        dip_until=np.full(n, -1, dtype=np.int32),
        dip_signs=np.zeros(n, dtype=np.uint8),
        redirected=np.zeros(n, dtype=bool),
        churned=np.zeros(n, dtype=bool),
        next_account_no=n + 1 + other[0].size,
        call_until=np.full(n, -1, dtype=np.int32),
        call_hazard=np.ones(n),
        call_adoption=np.ones(n),
    )
    bank = Bank(population, state, calendar, economy, mechanisms)
    hazard = churn_hazard(bank, np.arange(n), 0)
    months_draining = seed_leavers(rng, bank, process, hazard)
    # Money has been leaving for as many months as they have been on their way out.
    drained = 0.6**months_draining
    state.balance[:, CURRENT] *= drained
    state.balance[:, SAVINGS] *= drained
    return state


def _starting_products(
    rng: np.random.Generator,
    population: Population,
    age: np.ndarray,
    engagement: np.ndarray,
    base: np.ndarray,
) -> np.ndarray:
    """Which products each customer there at the start holds [customers, products].

    The chance of holding each product depends on life stage, income and appetite; later
    products depend on earlier ones (time deposits and funds on savings, insurance on the
    mortgage), hence the fixed order.
    """
    n = population.size
    band = population.first_profile.income_band - 2.0
    appetite = population.first_profile.risk_appetite
    log_activity = np.log(population.activity)
    held = np.zeros((n, N_PRODUCTS), dtype=bool)
    held[:, CURRENT] = base
    chance = (
        (SAVINGS, lambda: sigmoid(-0.4 + 0.45 * band + 0.3 * engagement)),
        (CLASSIC_CARD, lambda: sigmoid(-0.7 + 0.9 * log_activity + 0.3 * band - 1.0 * (age > 70))),
        (GOLD_CARD, lambda: sigmoid(-3.4 + 0.9 * band + 0.6 * log_activity)),
        (PERSONAL_LOAN, lambda: sigmoid(-2.2 - 0.25 * band - 0.04 * np.abs(age - 38))),
        (MORTGAGE, lambda: sigmoid(-1.8 + 0.6 * band - 0.004 * (age - 45) ** 2)),
        (
            TIME_DEPOSIT,
            lambda: sigmoid(-3.3 + 0.06 * (age - 45) + 0.4 * band + 0.9 * held[:, SAVINGS]),
        ),
        (
            BOND_FUND,
            lambda: sigmoid(-3.0 + 0.5 * band + 0.5 * (appetite - 3) + 0.8 * held[:, SAVINGS]),
        ),
        (EQUITY_FUND, lambda: sigmoid(-3.4 + 0.5 * band + 1.2 * (appetite - 3.5))),
        (HOME_INSURANCE, lambda: sigmoid(-3.0 + 2.5 * held[:, MORTGAGE])),
        (
            LIFE_INSURANCE,
            lambda: sigmoid(-3.0 + 1.5 * held[:, MORTGAGE] - 0.002 * (age - 45) ** 2),
        ),
        (PENSION_PLAN, lambda: sigmoid(-2.2 + 0.5 * band - 0.006 * (age - 48) ** 2)),
    )
    for product, probability in chance:
        p = probability() * suitability(appetite, product) * (age >= PRODUCT_MIN_AGE[product])
        held[:, product] = base & (rng.random(n) < p)
    return held


def _opening_times(rng: np.random.Generator, population: Population, start_us: int) -> np.ndarray:
    """Opening times [customers, products]: anywhere in the relationship, within a
    product's usual lifetime; the current account's is the joining day."""
    n = population.size
    opened_us = np.zeros((n, N_PRODUCTS), dtype=np.int64)
    opened_us[:, CURRENT] = population.active_from_us
    for product in range(1, N_PRODUCTS):
        earliest = np.maximum(
            population.active_from_us + HOUR_US,
            start_us - int(LOOKBACK_MONTHS[product] * DAYS_PER_MONTH * DAY_US),
        )
        earliest = np.minimum(earliest, start_us - HOUR_US)
        opened_us[:, product] = earliest + whole_seconds(rng.random(n) * (start_us - earliest))
    return opened_us
