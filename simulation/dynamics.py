"""How the synthetic bank's customers behave month by month: leaving, adopting, drifting.

Each month a customer who is not leaving yet decides to leave with a hazard that grows with
low engagement, recent complaint grievance, short tenure and few products; three in four
leavers first spend a 2-4 month countdown showing warning signs, the rest close everything
in the month they decide. Products are adopted with monthly probabilities set by life
stage, income and risk appetite. Engagement drifts back to a personal mean, with the
month's experiences on top.
"""

from __future__ import annotations

import numpy as np

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
    SAVINGS,
    TIME_DEPOSIT,
    suitability,
)
from simulation.interactions import Experience
from simulation.state import BankState, Month, Population
from simulation.timeline import Calendar

# The leaving process. Three in four leavers show warning signs for a countdown of 2-4
# months before closing; the rest close everything in the month they decide.
WARNED_SHARE = 0.75
COUNTDOWN_MONTHS = np.array([2, 3, 4])
COUNTDOWN_WEIGHTS = np.array([0.35, 0.4, 0.25])
SALARY_REDIRECT_SHARE = 0.85
JOB_CHANGE_RATE = 0.0015  # monthly chance a staying customer's salary moves to another bank
# Intercept of the monthly churn hazard's logit, tuned for an annual churn near 10 %.
HAZARD_INTERCEPT = -5.4
MAX_ADOPTION = 0.15  # monthly chance of opening a product, at most


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def churn_hazard(
    population: Population,
    state: BankState,
    who: np.ndarray,
    age: np.ndarray,
    tenure_months: np.ndarray,
) -> np.ndarray:
    """Monthly probability that each customer in `who` decides to leave, from their state."""
    n_products = state.held[who].sum(axis=1)
    logit = (
        HAZARD_INTERCEPT
        - 0.8 * state.engagement[who]
        + 0.9 * np.minimum(state.grievance[who], 3.0)
        + 0.9 * (tenure_months[who] < 12)
        + 0.4 * (tenure_months[who] < 36)
        - 0.3 * np.clip(n_products - 2, -1, 4)
        + 0.35 * (age[who] < 30)
        - 0.35 * (age[who] >= 65)
        + 0.3 * ((population.income_kind[who] == 0) | state.redirected[who])
    )
    return sigmoid(logit)


def adoption_probabilities(
    population: Population, state: BankState, who: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Monthly probability that each customer in `who` opens each product they do not hold.

    Returns:
        An array [len(who), products]: the probability, 0 for leaving customers, NaN where
        the product is held.
    """
    age = age[who]
    band = population.income_band[who] - 2.0
    appetite = population.risk_appetite[who]
    held = state.held[who]
    activity = population.activity[who]
    income = population.income[who]
    cash_cover = state.balance[who, CURRENT] / income
    income_factor = 0.5 + 0.25 * (band + 2)

    p = np.zeros((who.size, N_PRODUCTS))
    p[:, SAVINGS] = 0.010 * income_factor
    p[:, TIME_DEPOSIT] = 0.003 * (1 + 2 * (age >= 55)) * income_factor * (1 + held[:, SAVINGS])
    p[:, CLASSIC_CARD] = 0.008 * activity**2 * (age < 70) * (1 - 0.8 * held[:, GOLD_CARD])
    p[:, GOLD_CARD] = (
        0.002 * activity**2 * (1 + 3 * (band >= 1)) * (1 - 0.7 * held[:, CLASSIC_CARD])
    )
    p[:, PERSONAL_LOAN] = 0.004 * (1 + 2 * (cash_cover < 0.5)) * ((age >= 22) & (age < 60))
    # Mortgages around the buying age, for middle incomes and above.
    buying_age = np.exp(-(((age - 36) / 8) ** 2))
    p[:, MORTGAGE] = 0.008 * buying_age * np.where(band >= 0, 1 + 0.5 * band, 0.1)
    p[:, BOND_FUND] = 0.003 * (1 + held[:, SAVINGS]) * (appetite >= 3) * income_factor
    p[:, EQUITY_FUND] = 0.002 * np.where(appetite >= 4, 4.0, 0.3) * income_factor
    p[:, HOME_INSURANCE] = 0.0015 * (1 + 12 * held[:, MORTGAGE])
    p[:, LIFE_INSURANCE] = 0.0015 * (1 + 4 * held[:, MORTGAGE]) * ((age >= 30) & (age < 60))
    p[:, PENSION_PLAN] = 0.003 * (1 + 2 * ((age >= 35) & (age < 60))) * income_factor
    p *= np.exp(0.3 * state.engagement[who])[:, None]
    p *= suitability(appetite[:, None], np.arange(N_PRODUCTS)[None, :])
    p *= age[:, None] >= PRODUCT_MIN_AGE[None, :]
    p = np.clip(p, 0.0, MAX_ADOPTION)
    p[state.leaving[who]] = 0.0
    p[held] = np.nan
    return p


def decide_churn(
    rng: np.random.Generator,
    population: Population,
    state: BankState,
    calendar: Calendar,
    month: int,
    who: np.ndarray,
    hazard: np.ndarray,
) -> None:
    """Churn decisions of the customers in `who` not yet leaving, and job changes.

    A decider is given the month their last holding closes (this month, or after a
    countdown) and the time it closes; most warned leavers have their salary or pension
    paid elsewhere from now on.
    """
    k = who.size
    decides = ~state.leaving[who] & (rng.random(k) < hazard)
    warned = rng.random(k) < WARNED_SHARE
    length = COUNTDOWN_MONTHS[rng.choice(COUNTDOWN_MONTHS.size, k, p=COUNTDOWN_WEIGHTS)]
    redirect = rng.random(k) < SALARY_REDIRECT_SHARE
    close_uniform = rng.random(k)
    deciders = who[decides]
    close_month = month + np.where(warned[decides], length[decides], 0)
    state.close_month[deciders] = close_month
    state.churn_us[deciders] = calendar.close_time_us(close_month, close_uniform[decides])
    state.leaving[who[decides & warned]] = True
    state.redirected[who[decides & warned & redirect]] = True
    # Now and then a salaried customer who stays changes employer and has the new salary
    # paid elsewhere, so that a stopped salary is a strong sign of leaving, not proof.
    job_change = ~state.leaving[who] & ~decides & (rng.random(k) < JOB_CHANGE_RATE)
    state.redirected[who[job_change & (population.income_kind[who] == 1)]] = True


def end_month(
    rng: np.random.Generator,
    population: Population,
    state: BankState,
    month: Month,
    experience: Experience,
) -> None:
    """Advance the state to the next month's start: leavers are gone, engagement drifts.

    Engagement drifts back to the personal mean, with this month's experiences on top;
    leavers' engagement keeps sliding. Grievance fades by a quarter a month.
    """
    state.churned |= month.closing
    state.leaving &= ~month.closing
    state.engagement = (
        population.engagement_mean
        + 0.85 * (state.engagement - population.engagement_mean)
        + rng.normal(0, 0.3, population.size)
        + experience.shocks
        - 0.15 * month.counting_down
    )
    state.grievance = 0.75 * state.grievance + experience.grievance
