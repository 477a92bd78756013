"""The synthetic bank's churn hazard: the monthly chance a customer decides to leave.

The logit adds a baseline of engagement, grievance, tenure, products, age and where the
income is paid, and then the mechanisms of `common.config.SynthMechanisms`: a fixed-rate
lock-in and the spike at its end, a complaint that weighs more for new customers, savers
who chase the market's rate, low incomes reacting to a fee rise, a competitor pulling young
digital customers, January switching and an unobserved frailty. Apart from the decisions,
label noise closes everything with no warning: deaths (rising with age) and closures the
bank makes.

`decision_logit` also looks ahead: `ahead` months on, it moves what is known to move (the
calendar, the market path, fixed periods, tenure and age) and follows engagement and
grievance along their expected paths, holding everything else (products held, balances,
attributes) as it is now. The truth's 90-day probabilities are built on it.
"""

from __future__ import annotations

import numpy as np

from common.config import SynthMechanisms
from simulation.catalogue import MORTGAGE, SAVINGS, TIME_DEPOSIT
from simulation.economy import FEES, RAISED_FEES
from simulation.state import Bank
from simulation.timeline import DAYS_PER_MONTH

HAZARD_INTERCEPT = -5.5  # chosen on seeds 42 and 7 for an annual churn near 10 %
ENGAGEMENT_WEIGHT = 0.8
# Engagement drifts back to its mean (this share of the gap stays each month, plus noise);
# grievance fades (this share stays). `dynamics.end_month` moves them so.
ENGAGEMENT_PERSISTENCE = 0.85
ENGAGEMENT_NOISE = 0.3
GRIEVANCE_PERSISTENCE = 0.75
# A complaint weighs GRIEVANCE_WEIGHT for everybody, or with complaint x tenure from
# GRIEVANCE_NEW for a new customer down to GRIEVANCE_LOYAL for a long-standing one.
GRIEVANCE_WEIGHT = 0.9
GRIEVANCE_NEW, GRIEVANCE_LOYAL, GRIEVANCE_TENURE_MONTHS = 1.5, 0.35, 24.0
# Lock-in, for (mortgage, time deposit): while the fixed period runs (more than
# NEAR_END_BEFORE months left) and from NEAR_END_BEFORE months before its end until
# NEAR_END_AFTER months after it.
LOCKED_PRODUCTS = (MORTGAGE, TIME_DEPOSIT)
LOCKED_WEIGHT = np.array([-1.2, -0.5])
NEAR_END_WEIGHT = np.array([1.5, 0.9])
NEAR_END_BEFORE, NEAR_END_AFTER = 2.0, 3.0
# Rate-sensitive savers (savings of at least half a month's income) leave more for each
# point the market pays above the bank beyond RATE_GAP_TOLERATED.
RATE_GAP_WEIGHT, RATE_GAP_TOLERATED, SAVER_MIN_INCOMES = 0.7, 1.0, 0.5
# A fee rise: a reaction that fades over FEE_REACTION_MONTHS and a lasting part, full below
# FEE_LOW_INCOME and none from FEE_HIGH_INCOME on.
FEE_REACTION, FEE_LASTING, FEE_REACTION_MONTHS = 1.2, 0.2, 6.0
FEE_LOW_INCOME, FEE_HIGH_INCOME = 1000.0, 2500.0
# The competitor's pull on customers under COMPETITOR_MAX_AGE who bank mostly in the app.
COMPETITOR_WEIGHT, COMPETITOR_MAX_AGE, COMPETITOR_MIN_DIGITAL = 0.9, 35.0, 0.6
JANUARY_WEIGHT = 0.45
FRAILTY_SIGMA = 0.6
# Label noise, monthly: deaths follow a Gompertz law of age (about 0.1 % a year at 40,
# 1.3 % at 65, 9 % at 85), and the bank closes a few relationships (fraud, know-your-
# customer, debt) whatever the customer does.
DEATH_LOG_INTERCEPT, DEATH_PER_YEAR_OF_AGE = -10.4, 0.094
BANK_CLOSURE_RATE = 0.0004


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def churn_hazard(bank: Bank, who: np.ndarray, month: int) -> np.ndarray:
    """Monthly probability that each customer in `who` decides to leave in `month`."""
    return sigmoid(decision_logit(bank, who, month))


def decision_logit(bank: Bank, who: np.ndarray, month: int, ahead: int = 0) -> np.ndarray:
    """Logit of the chance to decide to leave in month `month + ahead`, from the state now.

    Args:
        bank: The bank at the start of `month`.
        who: Customer indices.
        month: The month whose start the state describes.
        ahead: Months to look ahead; 0 is the hazard in force now.
    """
    population, state = bank.population, bank.state
    day = int(bank.calendar.month_start_day[month + ahead])
    age = population.age_on(day)[who]
    tenure = population.tenure_months_on(day)[who]
    mean = population.engagement_mean[who]
    engagement = mean + ENGAGEMENT_PERSISTENCE**ahead * (state.engagement[who] - mean)
    # The hazard is convex in engagement: its expected value grows with the noise to come.
    spread = ENGAGEMENT_NOISE**2 * (1 - ENGAGEMENT_PERSISTENCE ** (2 * ahead))
    spread /= 1 - ENGAGEMENT_PERSISTENCE**2
    grievance = np.minimum(GRIEVANCE_PERSISTENCE**ahead * state.grievance[who], 3.0)
    n_products = state.held[who].sum(axis=1)
    income_elsewhere = (population.income_kind[who] == 0) | state.redirected[who]
    logit = (
        HAZARD_INTERCEPT
        - ENGAGEMENT_WEIGHT * engagement
        + 0.5 * ENGAGEMENT_WEIGHT**2 * spread
        + _grievance_weight(bank.mechanisms, tenure) * grievance
        + 0.9 * (tenure < 12)
        + 0.4 * (tenure < 36)
        - 0.3 * np.clip(n_products - 2, -1, 4)
        + 0.35 * (age < 30)
        - 0.35 * (age >= 65)
        + 0.3 * income_elsewhere
        + np.log(population.frailty[who])
    )
    logit += _lock_in(bank, who, day)
    logit += _market_and_fees(bank, who, month + ahead)
    competitor = bank.economy.competitor[month + ahead]
    if competitor:
        young_digital = (age < COMPETITOR_MAX_AGE) & (
            population.digital[who] >= COMPETITOR_MIN_DIGITAL
        )
        logit += COMPETITOR_WEIGHT * young_digital
    if bank.economy.january[month + ahead]:
        logit += JANUARY_WEIGHT
    return logit


def _grievance_weight(mechanisms: SynthMechanisms, tenure: np.ndarray) -> np.ndarray | float:
    """How much a complaint weighs: more for new customers, with complaint x tenure."""
    if not mechanisms.complaint_tenure:
        return GRIEVANCE_WEIGHT
    loyalty = np.exp(-np.maximum(tenure, 0.0) / GRIEVANCE_TENURE_MONTHS)
    return GRIEVANCE_LOYAL + (GRIEVANCE_NEW - GRIEVANCE_LOYAL) * loyalty


def _lock_in(bank: Bank, who: np.ndarray, day: int) -> np.ndarray | float:
    """Low while a fixed period runs, a spike in the months around its end."""
    if not bank.mechanisms.lock_in:
        return 0.0
    state = bank.state
    locked = list(LOCKED_PRODUCTS)
    fixed = state.fixed_until_day[:, locked][who]
    has_fixed = state.held[:, locked][who] & (fixed >= 0)
    months_left = (fixed - day) / DAYS_PER_MONTH
    running = has_fixed & (months_left > NEAR_END_BEFORE)
    near_end = has_fixed & (months_left <= NEAR_END_BEFORE) & (months_left > -NEAR_END_AFTER)
    return running @ LOCKED_WEIGHT + near_end @ NEAR_END_WEIGHT


def _market_and_fees(bank: Bank, who: np.ndarray, month: int) -> np.ndarray | float:
    """Rate-sensitive savers chasing the market's rate, low incomes reacting to a fee rise."""
    population, state, economy = bank.population, bank.state, bank.economy
    term: np.ndarray | float = 0.0
    excess_gap = max(float(economy.rate_gap[month]) - RATE_GAP_TOLERATED, 0.0)
    if bank.mechanisms.market_rates and excess_gap > 0:
        income = state.profile.income[who]
        saver = state.held[who, SAVINGS] & (
            state.balance[who, SAVINGS] >= SAVER_MIN_INCOMES * income
        )
        term = term + RATE_GAP_WEIGHT * excess_gap * (saver & population.rate_sensitive[who])
    since = int(economy.months_since_fee_change[month])
    if since >= 0:
        income = state.profile.income[who]
        low_income = np.clip(
            (FEE_HIGH_INCOME - income) / (FEE_HIGH_INCOME - FEE_LOW_INCOME), 0.0, 1.0
        )
        raised = (RAISED_FEES > FEES)[state.profile.segment[who]]
        reaction = FEE_REACTION * np.exp(-since / FEE_REACTION_MONTHS) + FEE_LASTING
        term = term + reaction * low_income * raised
    return term


def noise_hazard(bank: Bank, who: np.ndarray, month: int) -> np.ndarray | float:
    """Monthly chance of a closure nobody decided: a death or the bank's own decision."""
    if not bank.mechanisms.label_noise:
        return 0.0
    age = bank.population.age_on(int(bank.calendar.month_start_day[month]))[who]
    yearly_death = np.exp(DEATH_LOG_INTERCEPT + DEATH_PER_YEAR_OF_AGE * age)
    return np.minimum(yearly_death / 12 + BANK_CLOSURE_RATE, 1.0)


def death_share(bank: Bank, who: np.ndarray, month: int) -> np.ndarray:
    """Of the closures nobody decided, the share that are deaths."""
    noise = noise_hazard(bank, who, month)
    return np.where(np.asarray(noise) > 0, 1 - BANK_CLOSURE_RATE / np.maximum(noise, 1e-12), 0.0)


def draw_frailty(rng: np.random.Generator, n: int, on: bool) -> np.ndarray:
    """Mean-one log-normal multipliers on the hazard (all 1 without frailty)."""
    frailty = rng.lognormal(-(FRAILTY_SIGMA**2) / 2, FRAILTY_SIGMA, n)  # drawn either way
    return frailty if on else np.ones(n)
