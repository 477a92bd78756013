"""The synthetic bank's money movements of a month, one kind of transaction per step.

Salaries and pensions arrive on a fixed day unless paid elsewhere (or missing in a dip),
with a bonus in bonus months; customers spend by card and cash (more in the holidays), pay
bills, fees and loans, save and transfer; leavers who show the signs move their money out
and buy less, closers sweep what is left on the day they go, and silent leavers sweep all
but a few euros on their last move. What a customer does happens in their own window of
the month (empty once dormant); the bank's bookings (income, fees, loans, interest) in the
account's. Money leaving for other banks is booked by `outflows`. The steps run in a fixed
order: each draws from the bank's generator, and later steps read the current-account flow
of earlier ones.
"""

from __future__ import annotations

import numpy as np

from simulation.catalogue import (
    BILL_CATEGORIES,
    BOND_FUND,
    CLASSIC_CARD,
    CURRENT,
    EQUITY_FUND,
    GOLD_CARD,
    MORTGAGE,
    PENSION_PLAN,
    PERSONAL_LOAN,
    SAVINGS,
    SPENDING_CATEGORIES,
    SPENDING_WEIGHTS,
    TIME_DEPOSIT,
)
from simulation.ledger import (
    CATEGORY,
    CHANNEL,
    COUNTERPARTY,
    CREDIT,
    DEBIT,
    Booking,
    Ledger,
    self_service_channel,
    spending_channel,
)
from simulation.outflows import book_final_sweep, book_savings_withdrawals, book_transfers_out
from simulation.state import BankState, Population
from simulation.timeline import DAY_US, HOUR_US, event_owners, whole_seconds

BONUS_SHARE = 0.6  # salaried customers paid a bonus in a bonus month (0.3-1 x salary)
HOLIDAY_PURCHASES, HOLIDAY_AMOUNT = 1.3, 1.15  # more and larger purchases in the holidays


def book_transactions(booking: Booking) -> Ledger:
    """Book the month's money movements and move the balances they change."""
    ledger = Ledger(booking.state.account_no[:, CURRENT])
    for step in (
        _book_income,
        _book_transfers_in,
        _book_spending,
        _book_bills_and_fees,
        _book_loan_repayments,
        _book_saving,
        book_transfers_out,
        book_savings_withdrawals,
        _book_interest,
        book_final_sweep,
    ):
        step(booking, ledger)
    _move_balances(booking.rng, booking.population, booking.state, ledger.current_flow)
    return ledger


def _book_income(b: Booking, ledger: Ledger) -> None:
    """Salary or pension on a fixed day, unless the customer has had it paid elsewhere."""
    rng, population, state, window = b.rng, b.population, b.state, b.month.window
    n = population.size
    income = state.profile.income
    pay_ts = (
        window.month_start_us
        + (population.pay_day.astype(np.int64) - 1) * DAY_US
        + whole_seconds((3 + 3 * rng.random(n)) * HOUR_US)
    )
    paid = b.present & (population.income_kind > 0) & ~state.redirected & ~b.month.salary_missing
    paid &= window.contains(np.arange(n), pay_ts)
    bonus = np.where(
        b.economy.bonus[b.month.index]
        & (population.income_kind == 1)
        & (rng.random(n) < BONUS_SHARE),
        rng.uniform(0.3, 1.0, n),
        0.0,
    )
    who = np.flatnonzero(paid)
    kind = np.where(
        population.income_kind[who] == 2, COUNTERPARTY["pension"], COUNTERPARTY["salary"]
    )
    ledger.add_on_current(
        who,
        pay_ts[who],
        income[who] * (1 + bonus[who]) * rng.normal(1.0, 0.01, who.size),
        CREDIT,
        CHANNEL["system"],
        CATEGORY["income"],
        kind,
    )


def _book_transfers_in(b: Booking, ledger: Ledger) -> None:
    """Customers paid elsewhere move part of their income in themselves, unless leaving;
    anybody now and then receives a transfer."""
    rng, population, state, window = b.rng, b.population, b.state, b.month.own
    income = state.profile.income
    paid_elsewhere = (population.income_kind == 0) | state.redirected
    self_funded = paid_elsewhere & ~state.leaving & ~b.month.closing
    who = np.flatnonzero(self_funded & (rng.random(population.size) < 0.9 * b.own_share))
    ledger.add_on_current(
        who,
        window.uniform_times(rng, who),
        income[who] * rng.uniform(0.6, 1.0, who.size),
        CREDIT,
        self_service_channel(rng, population.digital[who]),
        CATEGORY["transfer"],
        COUNTERPARTY["transfer_in"],
    )
    who = event_owners(rng.poisson(0.15 * b.own_share))
    ledger.add_on_current(
        who,
        window.uniform_times(rng, who),
        income[who] * 0.1 * rng.lognormal(0, 0.8, who.size),
        CREDIT,
        self_service_channel(rng, population.digital[who]),
        CATEGORY["transfer"],
        COUNTERPARTY["transfer_in"],
    )


def _book_spending(b: Booking, ledger: Ledger) -> None:
    """Card and cash spending: fewer purchases once a customer is on the way out."""
    rng, population, state = b.rng, b.population, b.state
    income, per_month = state.profile.income, b.transactions_per_month
    holiday = b.economy.holiday[b.month.index]
    activity = population.activity * np.exp(0.25 * state.engagement)
    rate = per_month * activity * np.where(b.month.spending_less, 0.5, 1.0) * b.own_share
    who = event_owners(rng.poisson(rate * (HOLIDAY_PURCHASES if holiday else 1.0)))
    ts = b.month.own.uniform_times(rng, who)
    # Customers with more on their current account than usual spend more, so that balances
    # hover around a personal level instead of growing without end.
    cushion = np.clip((state.balance[:, CURRENT] / (1.5 * income)) ** 0.5, 0.5, 2.0)
    typical = (
        income * population.spend_ratio * cushion / np.maximum(per_month * population.activity, 1.0)
    )[who]
    amount = typical * rng.lognormal(-0.405, 0.9, who.size)  # mean 1 x typical
    if holiday:
        amount *= HOLIDAY_AMOUNT
    channel = spending_channel(rng, population.digital[who])
    cash = (channel == CHANNEL["atm"]) | (channel == CHANNEL["branch"])
    amount = np.where(cash, np.maximum(np.round(amount, -1), 20.0), amount)
    category = rng.choice(len(SPENDING_CATEGORIES), who.size, p=SPENDING_WEIGHTS)
    category = np.where(cash, CATEGORY["cash"], category)
    counterparty = np.where(cash, COUNTERPARTY["cash"], COUNTERPARTY["merchant"])
    # Half the card-present and online purchases go on a credit card, if the customer has
    # one that is still open at the time.
    card = np.where(b.held_at_start[:, GOLD_CARD], GOLD_CARD, CLASSIC_CARD)
    card_open = b.held_at_start[who, card[who]] & (b.closed_at[who, card[who]] > ts)
    on_card = ~cash & card_open & (rng.random(who.size) < 0.5)
    ledger.add(
        who[on_card],
        ts[on_card],
        amount[on_card],
        DEBIT,
        channel[on_card],
        category[on_card],
        counterparty[on_card],
        state.account_no[who[on_card], card[who[on_card]]],
    )
    off = ~on_card
    ledger.add_on_current(
        who[off], ts[off], amount[off], DEBIT, channel[off], category[off], counterparty[off]
    )


def _book_bills_and_fees(b: Booking, ledger: Ledger) -> None:
    """Direct debits while the customer uses the account, and the monthly fee the day before
    the month ends (dormant accounts pay it too)."""
    rng, population, window = b.rng, b.population, b.month.window
    n = population.size
    fee = b.economy.fee_by_segment[b.month.index][b.state.profile.segment]
    who = event_owners(rng.binomial(population.n_bills, np.clip(b.own_share, 0, 1)))
    ledger.add_on_current(
        who,
        b.month.own.uniform_times(rng, who),
        b.state.profile.income[who] * rng.uniform(0.02, 0.08, who.size),
        DEBIT,
        CHANNEL["online"],
        len(SPENDING_CATEGORIES) + rng.integers(0, len(BILL_CATEGORIES), who.size),
        COUNTERPARTY["bill"],
    )
    fee_ts = window.month_end_us - DAY_US + 2 * HOUR_US
    who = np.flatnonzero(b.present & (fee > 0) & window.contains(np.arange(n), np.full(n, fee_ts)))
    ledger.add_on_current(
        who,
        np.full(who.size, fee_ts),
        fee[who],
        DEBIT,
        CHANNEL["system"],
        CATEGORY["fees"],
        COUNTERPARTY["fee"],
    )


def _book_loan_repayments(b: Booking, ledger: Ledger) -> None:
    """Loan repayments early in the month, interest included; the debt falls by the term."""
    state, window = b.state, b.month.window
    n = b.population.size
    loan_ts = window.month_start_us + 2 * DAY_US + 4 * HOUR_US
    for loan, markup in ((PERSONAL_LOAN, 1.25), (MORTGAGE, 1.6)):
        due = (
            b.held_at_start[:, loan]
            & (b.closed_at[:, loan] > loan_ts)
            & window.contains(np.arange(n), np.full(n, loan_ts))
        )
        who = np.flatnonzero(due)
        ledger.add_on_current(
            who,
            np.full(who.size, loan_ts),
            state.terms[who, loan] * markup,
            DEBIT,
            CHANNEL["system"],
            CATEGORY["loan"],
            COUNTERPARTY["loan_payment"],
        )
        state.balance[who, loan] = np.maximum(
            state.balance[who, loan] - state.terms[who, loan], 0.0
        )


def _book_saving(b: Booking, ledger: Ledger) -> None:
    """Savers who are staying put money aside on their savings account."""
    rng, population, state = b.rng, b.population, b.state
    saver = state.held[:, SAVINGS] & ~b.month.counting_down & ~b.month.closing
    saver &= ~b.month.going_dormant
    who = np.flatnonzero(saver & (rng.random(population.size) < 0.35 * b.own_share))
    amount = state.profile.income[who] * rng.uniform(0.05, 0.25, who.size)
    ledger.add_on_current(
        who,
        b.month.own.uniform_times(rng, who),
        amount,
        DEBIT,
        self_service_channel(rng, population.digital[who]),
        CATEGORY["transfer"],
        COUNTERPARTY["transfer_out_same_bank"],
    )
    state.balance[who, SAVINGS] += np.round(np.maximum(amount, 0.01), 2)


def _book_interest(b: Booking, ledger: Ledger) -> None:
    """Quarterly interest on savings at the bank's published rate, on the savings account."""
    state, window = b.state, b.month.window
    n = b.population.size
    if b.economy.calendar_month[b.month.index] % 3 != 0:
        return
    interest_ts = window.month_end_us - DAY_US + HOUR_US
    who = np.flatnonzero(
        state.held[:, SAVINGS]
        & (state.balance[:, SAVINGS] >= 4.0)
        & window.contains(np.arange(n), np.full(n, interest_ts))
    )
    quarterly = b.economy.bank_rate[b.month.index] / 100 / 4
    amount = np.round(state.balance[who, SAVINGS] * quarterly, 2)
    ledger.add(
        who,
        np.full(who.size, interest_ts),
        amount,
        CREDIT,
        CHANNEL["system"],
        CATEGORY["interest"],
        COUNTERPARTY["interest"],
        state.account_no[who, SAVINGS],
    )
    state.balance[who, SAVINGS] += np.maximum(amount, 0.01)


def _move_balances(
    rng: np.random.Generator, population: Population, state: BankState, ca_flow: np.ndarray
) -> None:
    """Month-end balances: flows on the current account, interest, markets, contributions."""
    n = population.size
    balance = state.balance
    balance[:, CURRENT] = np.maximum(balance[:, CURRENT] + ca_flow, 0.0)
    balance[:, TIME_DEPOSIT] *= 1 + 0.025 / 12
    bond_market, equity_market = rng.normal(0.002, 0.01), rng.normal(0.006, 0.04)
    balance[:, BOND_FUND] *= np.maximum(1 + bond_market + rng.normal(0, 0.005, n), 0.5)
    balance[:, EQUITY_FUND] *= np.maximum(1 + equity_market + rng.normal(0, 0.03, n), 0.3)
    balance[:, PENSION_PLAN] = (
        balance[:, PENSION_PLAN] * (1 + 0.5 * equity_market)
        + 0.03 * state.profile.income * state.held[:, PENSION_PLAN]
    )
    balance[~state.held] = 0.0
    np.round(balance, 2, out=balance)
