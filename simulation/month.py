"""One month of the synthetic bank, step by step, from its first day to the next month's.

Everything decided in a month uses the state at the month's start: the truth is written,
the month's retention calls take effect, customers decide to leave (or are struck by label
noise) and dips begin, holdings close and open, money moves, customers get in touch,
balances are snapshot, attributes change and engagement drifts. The order of the steps is
the order of the random draws: changing it changes the bank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.attributes import AttributeHistory, change_attributes
from simulation.calls import apply_calls, call_response, with_call_effects
from simulation.departures import LeavingProcess, decide_departures
from simulation.dynamics import end_month
from simulation.hazard import churn_hazard, noise_hazard
from simulation.holdings import close_holdings, open_holdings
from simulation.interactions import record_interactions
from simulation.state import LOGINS_SIGN, MONEY_SIGN, SALARY_SIGN, SPENDING_SIGN, Bank, Month
from simulation.timeline import Window
from simulation.transactions import Booking, book_transactions
from simulation.truth import month_truth
from simulation.writer import BankWriter


@dataclass(frozen=True)
class Simulation:
    """One run of the synthetic bank.

    Attributes:
        rng: The bank's generator.
        call_rng: The calls' own generator, so the bank's draws stay those of a run
            without calls until a call.
        attribute_rng: The attribute changes' own generator.
        bank: The customers, their state (advanced month by month), the calendar, the
            economy and the mechanisms switched on.
        process: How deciders leave.
        attributes: The attribute versions recorded so far.
        transactions_per_month: Average card and cash spending transactions per customer.
    """

    rng: np.random.Generator
    call_rng: np.random.Generator
    attribute_rng: np.random.Generator
    bank: Bank
    process: LeavingProcess
    attributes: AttributeHistory
    transactions_per_month: float


def simulate_month(
    sim: Simulation, month: int, writer: BankWriter, called: np.ndarray | None = None
) -> Month:
    """Simulate one month, write its rows and advance the state to the next month's start.

    Args:
        sim: The run.
        month: Index of the month.
        writer: Where the month's rows go.
        called: Customers (indices) a retention call reached at the month's start.

    Returns:
        Where every customer stood in the month: who was at risk, closed, went quiet.
    """
    rng, bank = sim.rng, sim.bank
    population, state, calendar = bank.population, bank.state, bank.calendar
    start_day = int(calendar.month_start_day[month])
    age = population.age_on(start_day)
    tenure_months = population.tenure_months_on(start_day)
    at_risk = (population.active_from_us < calendar.month_start_us[month]) & ~state.churned
    who = np.flatnonzero(at_risk)
    base_hazard = churn_hazard(bank, who, month)
    hazard, adoption = with_call_effects(population, state, who, age, month, base_hazard)
    response = call_response(population, state, who, age, tenure_months)
    # The truth starts with the second month; the first month only creates its files.
    shown = slice(None) if month >= 1 else slice(0)
    truth = month_truth(bank, sim.process, month, who[shown], adoption[shown], response.take(shown))
    writer.write_truth(month, truth)
    if called is not None and month >= 1:
        writer.write_calls(month, apply_calls(sim.call_rng, state, month, who, called, response))
        hazard, adoption = with_call_effects(population, state, who, age, month, base_hazard)

    noise = noise_hazard(bank, who, month)
    decide_departures(rng, bank, sim.process, month, who, hazard, noise)
    scene = _month_after_decisions(bank, month, at_risk)
    held_at_start = state.held.copy()
    closures = close_holdings(rng, state, scene, sim.process.product_close)
    writer.write_holdings(closures.rows)
    staying = ~state.leaving[who] & ~state.dormant[who] & ~scene.closing[who]
    open_holdings(
        rng, population, state, scene, who[staying], adoption[staying], bank.mechanisms.lock_in
    )

    booking = Booking(
        rng,
        population,
        state,
        calendar,
        scene,
        held_at_start,
        closures.closed_at,
        sim.transactions_per_month,
        bank.economy,
    )
    writer.write_transactions(book_transactions(booking).columns())
    contacts, experience = record_interactions(rng, population, state, scene, calendar.extracted_us)
    writer.write_interactions(contacts.columns())
    writer.write_balances(month, state)
    if bank.mechanisms.changing_attributes:
        change_attributes(sim.attribute_rng, population, state, scene, sim.attributes)
    end_month(rng, population, state, scene, experience)
    return scene


def _month_after_decisions(bank: Bank, month: int, at_risk: np.ndarray) -> Month:
    """Who closes, who goes quiet, who counts down and shows which sign, and each
    customer's windows, once churn is decided."""
    population, state, calendar = bank.population, bank.state, bank.calendar
    month_start = int(calendar.month_start_us[month])
    month_end = int(calendar.month_start_us[month + 1])
    # Nothing may happen after extracted_at, the last second of the last month.
    last_moment = min(month_end, calendar.extracted_us + 1)
    arriving = population.join_month == month
    closing = at_risk & (state.close_month == month)
    going_dormant = at_risk & (state.gone_month == month) & ~closing
    # Dormant customers do nothing themselves, even in a month label noise closes them.
    dormant = at_risk & state.dormant
    counting_down = at_risk & state.leaving & ~closing & ~going_dormant
    in_dip = at_risk & (state.dip_until > month) & ~state.leaving & ~state.dormant & ~closing
    showing = counting_down | going_dormant

    def sign(bit: int) -> np.ndarray:
        return (showing & (state.signs & bit > 0)) | (in_dip & (state.dip_signs & bit > 0))

    window_start = np.where(arriving, population.active_from_us, month_start)
    window_end = np.where(closing, state.churn_us, last_moment)
    present = at_risk | arriving
    window_start[~present] = month_start
    window_end[~present] = month_start
    own_end = np.where(going_dormant, np.minimum(state.gone_us, window_end), window_end)
    own_end = np.where(dormant, window_start, own_end)
    return Month(
        index=month,
        at_risk=at_risk,
        arriving=arriving,
        closing=closing,
        going_dormant=going_dormant,
        dormant=dormant,
        counting_down=counting_down,
        salary_missing=in_dip & (state.dip_signs & SALARY_SIGN > 0),
        moving_money=sign(MONEY_SIGN),
        fewer_logins=sign(LOGINS_SIGN),
        spending_less=sign(SPENDING_SIGN),
        window=Window(window_start, window_end, month_start, month_end),
        own=Window(window_start, own_end, month_start, month_end),
    )
