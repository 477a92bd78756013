"""How the synthetic bank's customers adopt products and drift from month to month.

Products are adopted with monthly probabilities set by life stage, income and risk
appetite (the values in force that month); customers who refused marketing contact adopt
less, and leavers nothing. Engagement drifts back to a personal mean, with the month's
experiences on top; grievance fades. Leaving is decided in `simulation.departures`, with the
hazard of `simulation.hazard`.
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
from simulation.hazard import ENGAGEMENT_NOISE, ENGAGEMENT_PERSISTENCE, GRIEVANCE_PERSISTENCE
from simulation.interactions import Experience
from simulation.state import BankState, Month, Population

MAX_ADOPTION = 0.15  # monthly chance of opening a product, at most
DO_NOT_CONTACT_ADOPTION = 0.6  # no marketing reaches them: they adopt less


def adoption_probabilities(
    population: Population, state: BankState, who: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Monthly probability that each customer in `who` opens each product they do not hold.

    Returns:
        An array [len(who), products]: the probability, 0 for leaving customers, NaN where
        the product is held.
    """
    profile = state.profile
    age = age[who]
    band = profile.income_band[who] - 2.0
    appetite = profile.risk_appetite[who]
    held = state.held[who]
    activity = population.activity[who]
    income = profile.income[who]
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
    p *= np.where(profile.do_not_contact[who], DO_NOT_CONTACT_ADOPTION, 1.0)[:, None]
    p *= suitability(appetite[:, None], np.arange(N_PRODUCTS)[None, :])
    p *= age[:, None] >= PRODUCT_MIN_AGE[None, :]
    p = np.clip(p, 0.0, MAX_ADOPTION)
    p[state.leaving[who] | state.dormant[who]] = 0.0
    p[held] = np.nan
    return p


def end_month(
    rng: np.random.Generator,
    population: Population,
    state: BankState,
    month: Month,
    experience: Experience,
) -> None:
    """Advance the state to the next month's start: leavers are gone, engagement drifts.

    Closers have churned; silent leavers are dormant, their income paid elsewhere for
    good. Engagement drifts back to the personal mean, with this month's experiences on
    top; leavers' engagement keeps sliding. Grievance fades by a quarter a month.
    """
    state.churned |= month.closing
    state.leaving &= ~(month.closing | month.going_dormant)
    state.dormant |= month.going_dormant
    state.redirected |= month.going_dormant & (population.income_kind > 0)
    state.engagement = (
        population.engagement_mean
        + ENGAGEMENT_PERSISTENCE * (state.engagement - population.engagement_mean)
        + rng.normal(0, ENGAGEMENT_NOISE, population.size)
        + experience.shocks
        - 0.15 * month.counting_down
    )
    state.grievance = GRIEVANCE_PERSISTENCE * state.grievance + experience.grievance
