"""The synthetic bank's customers: who they are, and what they hold when the simulation starts.

`draw_population` draws every customer the bank will have: those with it at the start and
about 1 % of them arriving every month. `initial_state` gives the customers already there
their portfolios, balances and engagement, and puts those who decided to leave in the
months before the start in their countdown.
"""

from __future__ import annotations

import numpy as np

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
from simulation.dynamics import (
    COUNTDOWN_MONTHS,
    COUNTDOWN_WEIGHTS,
    SALARY_REDIRECT_SHARE,
    WARNED_SHARE,
    churn_hazard,
    sigmoid,
)
from simulation.holdings import opening_terms
from simulation.state import BankState, Population
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


def draw_population(rng: np.random.Generator, n_customers: int, calendar: Calendar) -> Population:
    """Every customer the bank will have, in customer-id (joining) order."""
    joins = _draw_joins(rng, n_customers, calendar)
    age = (int(calendar.month_start_day[0]) - joins["birth_day"]) / DAYS_PER_YEAR
    profile = _draw_profile(rng, age)
    contact = _draw_contact_preferences(rng, age, profile["digital"])
    habits = _draw_banking_habits(rng, age, profile["segment"])
    return Population(**joins, **profile, **contact, **habits)


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


def _draw_profile(rng: np.random.Generator, age: np.ndarray) -> dict[str, np.ndarray]:
    """Gender, region, income and segment, risk appetite and how digital each customer is.

    Args:
        rng: The bank's generator.
        age: Each customer's age at the start (arrivals are adults when they join).
    """
    n = age.size
    gender = rng.choice(len(GENDERS), n, p=[0.49, 0.49, 0.02]).astype(np.int8)
    region = rng.choice(len(REGIONS), n, p=REGION_WEIGHTS).astype(np.int8)
    career = np.clip(1 - ((age - 48) / 30) ** 2, -1, 1)
    log_income = np.log(1800) + 0.4 * career + 0.15 * (region == 0) + rng.normal(0, 0.45, n)
    income = np.exp(log_income) * np.where(age >= 65, 0.75, 1.0)
    income_band = np.searchsorted([1500, 2200, 3200, 5000], income, side="right").astype(np.int8)

    segment = np.where(income_band >= 3, 1, 0)
    segment = np.where(income >= 9000, 2, segment)
    small_business = (rng.random(n) < 0.07) & (age >= 25) & (age < 70)
    segment = np.where(small_business, 3, segment).astype(np.int8)

    appetite = 2.6 - 0.03 * (age - 45) + 0.35 * (income_band - 2) + rng.normal(0, 0.9, n)
    return {
        "gender": gender,
        "region": region,
        "income": income,
        "income_band": income_band,
        "segment": segment,
        "risk_appetite": np.clip(np.round(appetite), 1, 5).astype(np.int8),
        "digital": sigmoid(2.0 - 0.07 * (age - 30) + rng.normal(0, 0.8, n)),
    }


def _draw_contact_preferences(
    rng: np.random.Generator, age: np.ndarray, digital: np.ndarray
) -> dict[str, np.ndarray]:
    """Digital customers want the app or e-mail; the others a call, the oldest a visit."""
    n = age.size
    prefers_digital = rng.random(n) < digital
    channel_draw = rng.random(n)
    in_person_share = np.clip(0.15 + 0.01 * (age - 40), 0.1, 0.5)
    preferred = np.where(
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
    return {"preferred_channel": preferred, "do_not_contact": rng.random(n) < 0.03}


def _draw_banking_habits(
    rng: np.random.Generator, age: np.ndarray, segment: np.ndarray
) -> dict[str, np.ndarray]:
    """Spending activity, engagement, income paid in, bills and the segment's fee."""
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
        "monthly_fee": np.array([4.5, 8.0, 0.0, 12.0])[segment],
    }


def initial_state(
    rng: np.random.Generator, population: Population, calendar: Calendar
) -> BankState:
    """Portfolios, balances and engagement of the customers already there at the start."""
    n = population.size
    start_us = int(calendar.month_start_us[0])
    base = population.join_month < 0
    age = population.age_on(int(calendar.month_start_day[0]))
    engagement = population.engagement_mean + rng.normal(0, 0.55, n)
    held = _starting_products(rng, population, age, engagement, base)
    opened_us = _opening_times(rng, population, start_us)
    opened_us[~held] = 0

    customer, product = np.nonzero(held)
    elapsed = (start_us - opened_us[customer, product]) / (DAYS_PER_MONTH * DAY_US)
    balance_rows, terms_rows = opening_terms(rng, population, customer, product, elapsed)
    balance = np.zeros((n, N_PRODUCTS))
    terms = np.zeros((n, N_PRODUCTS))
    balance[customer, product] = balance_rows
    terms[customer, product] = terms_rows
    # Engaged customers keep more on their current account.
    balance[:, CURRENT] *= np.exp(0.3 * engagement)
    account_no = np.full((n, N_PRODUCTS), -1, dtype=np.int64)
    # Current accounts are numbered by customer, so account 1 belongs to customer 1; every
    # other account gets the next free number when it is opened.
    account_no[:, CURRENT] = np.arange(1, n + 1)
    other = np.nonzero(held[:, 1:])
    account_no[other[0], other[1] + 1] = n + 1 + np.arange(other[0].size)

    state = BankState(
        held=held,
        opened_us=opened_us,
        account_no=account_no,
        balance=balance,
        terms=terms,
        engagement=engagement,
        grievance=np.zeros(n),
        leaving=np.zeros(n, dtype=bool),
        close_month=np.full(n, -1, dtype=np.int32),
        churn_us=np.zeros(n, dtype=np.int64),
        redirected=np.zeros(n, dtype=bool),
        churned=np.zeros(n, dtype=bool),
        next_account_no=n + 1 + other[0].size,
        call_until=np.full(n, -1, dtype=np.int32),
        call_hazard=np.ones(n),
        call_adoption=np.ones(n),
    )
    _seed_countdowns(rng, population, state, calendar)
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
    band = population.income_band - 2.0
    appetite = population.risk_appetite
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


def _seed_countdowns(
    rng: np.random.Generator, population: Population, state: BankState, calendar: Calendar
) -> None:
    """Put the customers who decided to leave in the months before the start in countdown.

    Without them the first months would show only leavers without warning signs.
    """
    n = population.size
    start_day = int(calendar.month_start_day[0])
    age, tenure_months = population.age_on(start_day), population.tenure_months_on(start_day)
    hazard = churn_hazard(population, state, np.arange(n), age, tenure_months)
    # Decided j months before the start and still counting down: countdown length >= j.
    lags = np.arange(1, COUNTDOWN_MONTHS.max() + 1)
    still_counting = np.array(
        [(COUNTDOWN_WEIGHTS * (lag <= COUNTDOWN_MONTHS)).sum() for lag in lags]
    )
    lag_chance = hazard[:, None] * WARNED_SHARE * still_counting[None, :]
    cumulative = np.cumsum(lag_chance, axis=1)
    draw = rng.random(n)
    decided = (population.join_month < 0) & (draw < cumulative[:, -1])
    lag = 1 + (draw[:, None] >= cumulative).sum(axis=1)
    length_draw = rng.random(n)
    length = np.zeros(n, dtype=np.int64)
    for j in lags:
        weights = COUNTDOWN_WEIGHTS * (j <= COUNTDOWN_MONTHS)
        cdf = np.cumsum(weights / weights.sum())
        picked = COUNTDOWN_MONTHS[
            np.minimum(np.searchsorted(cdf, length_draw, side="right"), len(cdf) - 1)
        ]
        length = np.where(lag == j, picked, length)
    close_month = np.where(decided, length - lag, -1)
    redirect = rng.random(n) < SALARY_REDIRECT_SHARE
    close_uniform = rng.random(n)
    state.leaving[:] = decided
    state.close_month[:] = close_month
    state.redirected[:] = decided & redirect
    state.churn_us[decided] = calendar.close_time_us(close_month[decided], close_uniform[decided])
    # Money has been leaving for `lag` months already.
    drained = np.where(decided, 0.6**lag, 1.0)
    state.balance[:, CURRENT] *= drained
    state.balance[:, SAVINGS] *= drained
