"""Money leaving the synthetic bank: transfers to other banks, by anybody now and then and
by leavers and dips that show the sign, savings withdrawn, and a leaver's last sweep (all
of it for a closer, all but a few euros for a silent leaver). Steps of
`transactions.book_transactions`, in its order of draws.
"""

from __future__ import annotations

import numpy as np

from simulation.catalogue import CURRENT, SAVINGS
from simulation.ledger import CATEGORY, COUNTERPARTY, DEBIT, Booking, Ledger, self_service_channel
from simulation.timeline import SECOND_US, event_owners

DORMANT_BALANCE_LEFT = 90.0  # a silent leaver leaves less than this on the account


def book_transfers_out(b: Booking, ledger: Ledger) -> None:
    """Everyone now and then pays another bank; leavers and dips move money out there."""
    rng, population, state, window = b.rng, b.population, b.state, b.month.own
    n = population.size
    who = event_owners(rng.poisson(0.08 * b.own_share))
    ledger.add_on_current(
        who,
        window.uniform_times(rng, who),
        state.profile.income[who] * rng.uniform(0.05, 0.4, who.size),
        DEBIT,
        self_service_channel(rng, population.digital[who]),
        CATEGORY["transfer"],
        COUNTERPARTY["transfer_out_other_bank"],
    )
    moves = rng.poisson(0.5, n) + 1
    who = event_owners(np.where(b.month.moving_money, moves, 0))
    moved_share = rng.uniform(0.3, 0.7, n)
    cash_now = np.maximum(state.balance[:, CURRENT] + ledger.current_flow, 0.0)
    ledger.add_on_current(
        who,
        window.uniform_times(rng, who),
        (cash_now * moved_share / moves)[who],
        DEBIT,
        self_service_channel(rng, population.digital[who]),
        CATEGORY["transfer"],
        COUNTERPARTY["transfer_out_other_bank"],
    )


def book_savings_withdrawals(b: Booking, ledger: Ledger) -> None:
    """Leavers and dips move part of their savings to another bank, from the savings account."""
    rng, state = b.rng, b.state
    withdraw = np.flatnonzero(
        b.month.moving_money & state.held[:, SAVINGS] & (state.balance[:, SAVINGS] > 1.0)
    )
    amount = np.round(state.balance[withdraw, SAVINGS] * rng.uniform(0.3, 0.7, withdraw.size), 2)
    ledger.add(
        withdraw,
        b.month.own.uniform_times(rng, withdraw),
        amount,
        DEBIT,
        self_service_channel(rng, b.population.digital[withdraw]),
        CATEGORY["transfer"],
        COUNTERPARTY["transfer_out_other_bank"],
        state.account_no[withdraw, SAVINGS],
    )
    state.balance[withdraw, SAVINGS] -= np.maximum(amount, 0.01)


def book_final_sweep(b: Booking, ledger: Ledger) -> None:
    """A leaver's last act: what is left on the current account goes to the new bank, all of
    it for a closer, all but a few euros for a silent leaver."""
    state = b.state
    n = b.population.size
    cash_now = state.balance[:, CURRENT] + ledger.current_flow
    left_behind = np.where(b.month.going_dormant, b.rng.uniform(0.0, DORMANT_BALANCE_LEFT, n), 0.0)
    sweep_ts = np.where(b.month.going_dormant, state.gone_us, state.churn_us) - SECOND_US
    leaving_now = b.month.closing | b.month.going_dormant
    who = np.flatnonzero(
        leaving_now
        & (cash_now - left_behind >= 0.01)
        & b.month.window.contains(np.arange(n), sweep_ts)
    )
    ledger.add_on_current(
        who,
        sweep_ts[who],
        (cash_now - left_behind)[who],
        DEBIT,
        self_service_channel(b.rng, b.population.digital[who]),
        CATEGORY["transfer"],
        COUNTERPARTY["transfer_out_other_bank"],
    )
