"""One month of the synthetic bank, step by step, from its first day to the next month's.

Everything decided in a month uses the state at the month's start: the truth is written,
the month's retention calls take effect, customers decide to leave, holdings close and
open, money moves, customers get in touch, balances are snapshot, and engagement drifts.
The order of the steps is the order of the random draws: changing it changes the bank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.calls import apply_calls, call_response, with_call_effects
from simulation.dynamics import churn_hazard, decide_churn, end_month
from simulation.holdings import close_holdings, open_holdings
from simulation.interactions import record_interactions
from simulation.state import BankState, Month, Population
from simulation.timeline import Calendar, Window
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
        population: The customers.
        state: The bank's state, advanced month by month.
        calendar: The simulation's months.
        transactions_per_month: Average card and cash spending transactions per customer.
    """

    rng: np.random.Generator
    call_rng: np.random.Generator
    population: Population
    state: BankState
    calendar: Calendar
    transactions_per_month: float


def simulate_month(
    sim: Simulation, month: int, writer: BankWriter, called: np.ndarray | None = None
) -> tuple[int, int]:
    """Simulate one month, write its rows and advance the state to the next month's start.

    Args:
        sim: The run.
        month: Index of the month.
        writer: Where the month's rows go.
        called: Customers (indices) a retention call reached at the month's start.

    Returns:
        Customers at risk at the month's start, and customers who closed everything.
    """
    rng, population, state, calendar = sim.rng, sim.population, sim.state, sim.calendar
    start_day = int(calendar.month_start_day[month])
    age = population.age_on(start_day)
    tenure_months = population.tenure_months_on(start_day)
    at_risk = (population.active_from_us < calendar.month_start_us[month]) & ~state.churned
    who = np.flatnonzero(at_risk)
    base_hazard = churn_hazard(population, state, who, age, tenure_months)
    hazard, adoption = with_call_effects(population, state, who, age, month, base_hazard)
    response = call_response(population, state, who, age, tenure_months)
    # The truth starts with the second month; the first month only creates its files.
    shown = slice(None) if month >= 1 else slice(0)
    truth = month_truth(
        calendar,
        month,
        state,
        who[shown],
        hazard[shown],
        base_hazard[shown],
        adoption[shown],
        response.take(shown),
    )
    writer.write_truth(month, truth)
    if called is not None and month >= 1:
        writer.write_calls(month, apply_calls(sim.call_rng, state, month, who, called, response))
        hazard, adoption = with_call_effects(population, state, who, age, month, base_hazard)

    decide_churn(rng, population, state, calendar, month, who, hazard)
    scene = _month_after_decisions(sim, month, at_risk)
    held_at_start = state.held.copy()
    closures = close_holdings(rng, state, scene)
    writer.write_holdings(closures.rows)
    staying = ~state.leaving[who] & ~scene.closing[who]
    open_holdings(rng, population, state, scene, who[staying], adoption[staying])

    booking = Booking(
        rng,
        population,
        state,
        calendar,
        scene,
        held_at_start,
        closures.closed_at,
        sim.transactions_per_month,
    )
    writer.write_transactions(book_transactions(booking).columns())
    contacts, experience = record_interactions(rng, population, state, scene, calendar.extracted_us)
    writer.write_interactions(contacts.columns())
    writer.write_balances(month, state)
    end_month(rng, population, state, scene, experience)
    return who.size, int(scene.closing.sum())


def _month_after_decisions(sim: Simulation, month: int, at_risk: np.ndarray) -> Month:
    """Who closes, who counts down, and each customer's window, once churn is decided."""
    population, state, calendar = sim.population, sim.state, sim.calendar
    month_start = int(calendar.month_start_us[month])
    month_end = int(calendar.month_start_us[month + 1])
    # Nothing may happen after extracted_at, the last second of the last month.
    last_moment = min(month_end, calendar.extracted_us + 1)
    arriving = population.join_month == month
    closing = at_risk & (state.close_month == month)
    counting_down = at_risk & state.leaving & ~closing
    window_start = np.where(arriving, population.active_from_us, month_start)
    window_end = np.where(closing, state.churn_us, last_moment)
    present = at_risk | arriving
    window_start[~present] = month_start
    window_end[~present] = month_start
    return Month(
        index=month,
        at_risk=at_risk,
        arriving=arriving,
        closing=closing,
        counting_down=counting_down,
        window=Window(window_start, window_end, month_start, month_end),
    )
