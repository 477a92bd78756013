"""Holdings opened and closed in the synthetic bank, and the terms a new holding gets.

Leavers close their whole portfolio at the end of their countdown (the current account
last) and products one by one during it; silent leavers close everything but the current
account (and cards and policies, left in a drawer) when they go quiet; customers who are
not leaving now and then close one, so that one closed product is no proof of churn, more
often a fixed-rate product whose fixed period is ending (refinanced or paid out elsewhere).
Adoptions and the accounts of arriving customers open holdings; fixed-rate mortgages and
time deposits get their fixed period when opened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.catalogue import (
    BOND_FUND,
    CARD_PRODUCTS,
    CLASSIC_CARD,
    CURRENT,
    DEBT_PRODUCTS,
    EQUITY_FUND,
    GOLD_CARD,
    HOME_INSURANCE,
    LIFE_INSURANCE,
    MORTGAGE,
    N_PRODUCTS,
    PENSION_PLAN,
    PERSONAL_LOAN,
    SAVINGS,
    TIME_DEPOSIT,
)
from simulation.state import BankState, Month, Population
from simulation.timeline import DAY_US, DAYS_PER_MONTH, NEVER

# Monthly chance that a customer who is not leaving closes a product (card cancelled,
# savings emptied, fund sold), so that one closed product is no proof of churn.
ROUTINE_CLOSE = np.array(
    [0.0, 0.002, 0.006, 0.004, 0.003, 0.003, 0.001, 0.004, 0.005, 0.002, 0.002, 0.001]
)
# What a silent leaver closes when going quiet: savings, investments and loans (moved or
# refinanced elsewhere); the current account stays open, cards and policies in a drawer.
DORMANCY_CLOSES = np.isin(
    np.arange(N_PRODUCTS),
    (SAVINGS, TIME_DEPOSIT, PERSONAL_LOAN, MORTGAGE, BOND_FUND, EQUITY_FUND, PENSION_PLAN),
)
# Fixed periods agreed at opening: (lengths in months, their weights, share of holdings
# with one). Time deposits always have a term; most mortgages a fixed rate.
FIXED_PERIODS = {
    MORTGAGE: (np.array([24, 60]), np.array([0.45, 0.55]), 0.85),
    TIME_DEPOSIT: (np.array([12, 24]), np.array([0.6, 0.4]), 1.0),
}
FIXED_END_CLOSE = 0.08  # monthly chance a stayer closes a product around its fixed end


@dataclass(frozen=True)
class HoldingRows:
    """Holdings as rows of the contract's holdings table.

    Attributes:
        customer: Customer index of each holding.
        product: Its product index.
        opened_us: When it was opened.
        closed_us: When it closed; None for holdings still open.
        account_no: Its account number.
        balance_or_limit: Balance, debt outstanding, card limit or premium; 0 once closed.
        fixed_until_day: End of its fixed period (days since the epoch), -1 if none.
    """

    customer: np.ndarray
    product: np.ndarray
    opened_us: np.ndarray
    closed_us: np.ndarray | None
    account_no: np.ndarray
    balance_or_limit: np.ndarray
    fixed_until_day: np.ndarray


@dataclass(frozen=True)
class Closures:
    """The holdings closed in one month.

    Attributes:
        rows: One row per closed holding.
        closed_at: [customers, products]: when each holding closed this month, NEVER for
            holdings that did not.
    """

    rows: HoldingRows
    closed_at: np.ndarray


def close_holdings(
    rng: np.random.Generator, state: BankState, month: Month, product_close: float
) -> Closures:
    """Close this month's holdings: they are no longer held afterwards.

    Args:
        rng: The bank's generator.
        state: The bank's state, changed in place.
        month: The month simulated.
        product_close: Monthly chance a leaver closes each product but the current account.
    """
    closing, counting_down = month.closing, month.counting_down
    n = closing.size
    held = state.held
    # Whole portfolios of leavers at the end of their countdown: the current account last.
    closing_all = held & closing[:, None]
    # Silent leavers going quiet close what holds money or debt, before their last move.
    going_quiet = held & month.going_dormant[:, None] & DORMANCY_CLOSES[None, :]
    # Leavers counting down close products one by one; the others now and then close one.
    routine = month.at_risk & ~state.leaving & ~closing & ~state.dormant
    engagement_factor = np.exp(-0.4 * state.engagement)[:, None]
    loan_repaid = np.zeros_like(held)
    loan_repaid[:, DEBT_PRODUCTS] = (
        state.balance[:, DEBT_PRODUCTS] <= state.terms[:, DEBT_PRODUCTS] + 0.01
    )
    draw = rng.random((n, N_PRODUCTS))
    one_by_one = held & counting_down[:, None] & (draw < product_close)
    routine_chance = np.where(
        _near_fixed_end(state, month), FIXED_END_CLOSE, ROUTINE_CLOSE[None, :] * engagement_factor
    )
    single = held & routine[:, None] & ((draw < routine_chance) | loan_repaid)
    one_by_one[:, CURRENT] = False
    single[:, CURRENT] = False
    closes = closing_all | going_quiet | one_by_one | single

    customer, product = np.nonzero(closes)
    ts = month.window.uniform_times(rng, customer)
    quiet = month.going_dormant[customer]
    ts[quiet] = month.own.uniform_times(rng, customer[quiet])
    last = closing[customer] & (product == CURRENT)
    ts[last] = state.churn_us[customer[last]]
    closed_at = np.full((n, N_PRODUCTS), NEVER, dtype=np.int64)
    closed_at[customer, product] = ts
    rows = HoldingRows(
        customer=customer,
        product=product,
        opened_us=state.opened_us[customer, product],
        closed_us=ts,
        account_no=state.account_no[customer, product],
        balance_or_limit=np.zeros(customer.size),
        fixed_until_day=state.fixed_until_day[customer, product],
    )
    held[customer, product] = False
    return Closures(rows, closed_at)


def _near_fixed_end(state: BankState, month: Month) -> np.ndarray:
    """[customers, products]: the holding's fixed period ends around this month."""
    day = month.window.month_start_us // DAY_US
    months_left = (state.fixed_until_day - day) / DAYS_PER_MONTH
    return (state.fixed_until_day >= 0) & (months_left <= 2.0) & (months_left > -3.0)


def fixed_until_days(
    rng: np.random.Generator, product: np.ndarray, opened_us: np.ndarray, lock_in: bool
) -> np.ndarray:
    """End of the fixed period agreed at opening (days since the epoch), -1 where none.

    Args:
        rng: The bank's generator; the same draws with or without lock-in.
        product: Product of each new holding.
        opened_us: When each was opened.
        lock_in: Whether fixed periods exist at all.
    """
    u = rng.random((2, product.size))
    until = np.full(product.size, -1, dtype=np.int32)
    if not lock_in:
        return until
    opened_day = opened_us // DAY_US
    for fixed_product, (months, weights, share) in FIXED_PERIODS.items():
        rows = (product == fixed_product) & (u[0] < share)
        cdf = np.cumsum(weights) / weights.sum()
        length = months[np.minimum(np.searchsorted(cdf, u[1][rows], side="right"), months.size - 1)]
        until[rows] = opened_day[rows] + np.round(length * DAYS_PER_MONTH).astype(np.int64)
    return until


def open_holding_rows(state: BankState) -> HoldingRows:
    """Holdings still open, with their balance or limit now."""
    customer, product = np.nonzero(state.held)
    limit_like = np.isin(product, CARD_PRODUCTS + (HOME_INSURANCE, LIFE_INSURANCE))
    value = np.where(limit_like, state.terms[customer, product], state.balance[customer, product])
    return HoldingRows(
        customer=customer,
        product=product,
        opened_us=state.opened_us[customer, product],
        closed_us=None,
        account_no=state.account_no[customer, product],
        balance_or_limit=value,
        fixed_until_day=state.fixed_until_day[customer, product],
    )


def open_holdings(
    rng: np.random.Generator,
    population: Population,
    state: BankState,
    month: Month,
    adopters: np.ndarray,
    adoption: np.ndarray,
    lock_in: bool,
) -> None:
    """Open this month's new holdings: adoptions, and the accounts of arriving customers.

    Args:
        rng: The bank's generator.
        population: The customers.
        state: The bank's state, changed in place.
        month: The month simulated.
        adopters: Customers who may adopt a product this month.
        adoption: Their monthly adoption probabilities [adopters, products], NaN if held.
        lock_in: Whether new mortgages and time deposits get a fixed period.
    """
    opens = rng.random(adoption.shape) < np.nan_to_num(adoption, nan=0.0)
    row, product = np.nonzero(opens)
    customer = adopters[row]
    ts = month.own.uniform_times(rng, customer)

    # Arriving customers open a current account when they join, some a savings account or a
    # card with it.
    newcomers = np.flatnonzero(month.arriving)
    bundle = np.zeros((newcomers.size, N_PRODUCTS), dtype=bool)
    bundle[:, CURRENT] = True
    bundle[:, SAVINGS] = rng.random(newcomers.size) < 0.25
    bundle[:, CLASSIC_CARD] = rng.random(newcomers.size) < 0.2 * population.activity[newcomers]
    new_row, new_product = np.nonzero(bundle)
    new_customer = newcomers[new_row]

    customer = np.concatenate([customer, new_customer])
    product = np.concatenate([product, new_product])
    ts = np.concatenate([ts, population.active_from_us[new_customer]])
    balance, terms = opening_terms(rng, state.profile.income, customer, product, 0.0)
    fixed_until = fixed_until_days(rng, product, ts, lock_in)

    state.held[customer, product] = True
    state.opened_us[customer, product] = ts
    state.fixed_until_day[customer, product] = fixed_until
    state.balance[customer, product] = balance
    state.terms[customer, product] = terms
    not_current = product != CURRENT
    state.account_no[customer[not_current], product[not_current]] = (
        state.next_account_no + np.arange(int(not_current.sum()))
    )
    state.next_account_no += int(not_current.sum())


def opening_terms(
    rng: np.random.Generator,
    income: np.ndarray,
    customer: np.ndarray,
    product: np.ndarray,
    elapsed_months: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """Balance and terms of holdings opened `elapsed_months` ago, one per (customer, product).

    Args:
        rng: The bank's generator.
        income: Every customer's monthly income.
        customer: Customer of each holding.
        product: Its product.
        elapsed_months: Months since it was opened.

    Returns:
        The balance (assets, or debt outstanding for loans) and the terms (card limit,
        insurance premium or monthly repayment) of each holding.
    """
    rows = customer.size
    income = income[customer]
    elapsed = np.broadcast_to(np.asarray(elapsed_months, dtype=float), (rows,))
    years = elapsed / 12
    lognormal = rng.lognormal(0, 1, rows)
    uniform = rng.random(rows)
    term_draw = rng.random(rows)
    balance = np.zeros(rows)
    terms = np.zeros(rows)

    def where(p: int) -> np.ndarray:
        return product == p

    m = where(CURRENT)
    balance[m] = income[m] * 2.0 * lognormal[m] ** 0.7
    m = where(SAVINGS)
    balance[m] = income[m] * np.minimum(0.5 + years[m], 4) * lognormal[m] ** 0.9
    m = where(TIME_DEPOSIT)
    balance[m] = income[m] * 5 * lognormal[m] ** 0.6
    for p, scale in ((BOND_FUND, 3.0), (EQUITY_FUND, 3.0)):
        m = where(p)
        balance[m] = income[m] * scale * np.minimum(0.5 + years[m] / 3, 2) * lognormal[m] ** 0.8
    m = where(PENSION_PLAN)
    balance[m] = income[m] * (0.3 + 0.6 * years[m]) * lognormal[m] ** 0.3
    m = where(CLASSIC_CARD)
    terms[m] = np.round(income[m] * (1 + 2 * uniform[m]), -2)
    m = where(GOLD_CARD)
    terms[m] = np.round(income[m] * (3 + 3 * uniform[m]), -2)
    m = where(HOME_INSURANCE)
    terms[m] = np.round(150 + 450 * uniform[m], 2)
    m = where(LIFE_INSURANCE)
    terms[m] = np.round(200 + 1000 * uniform[m], 2)
    for p, principal_scale, shortest, longest in (
        (PERSONAL_LOAN, (2.0, 8.0), 24, 84),
        (MORTGAGE, (30.0, 30.0), 240, 360),  # 2.5 to 5 years of income
    ):
        m = where(p)
        principal = income[m] * (principal_scale[0] + principal_scale[1] * uniform[m])
        # A loan opened long ago still runs: its term covers the months since opening.
        term = np.maximum(shortest + (longest - shortest) * term_draw[m], elapsed[m] + 3)
        terms[m] = principal / term
        balance[m] = principal * (1 - elapsed[m] / term)
    return np.round(balance, 2), np.round(terms, 2)
