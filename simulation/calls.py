"""Retention calls in the synthetic bank: how each customer responds to one, and its effect.

Real programmes find that many of the riskiest customers leave whatever is done, that
complaint-driven leavers can be won back, and that a few customers react badly to being
called. Each customer's response is known to the generator (`call_response`), written to
the truth every month, and applied to the customers a campaign's calls reached
(`apply_calls`) for `CALL_EFFECT_MONTHS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from simulation.dynamics import MAX_ADOPTION, adoption_probabilities
from simulation.state import NEVER_DECIDED, STAYING, BankState, Population
from simulation.timeline import Calendar

CALL_EFFECT_MONTHS = 3  # a call changes the hazard and the adoption for this long
SAVE_SHARE_AGGRIEVED = 0.6  # leavers with a fresh grievance that a call turns round
SAVE_SHARE_ATTACHED = 0.5  # leavers whose salary or pension is still paid in here
SAVE_SHARE_OTHER = 0.0  # other leavers (salary gone, money moved): lost causes
PERSUADED_HAZARD = 0.25  # hazard factor for persuadable stayers and saved leavers
SLEEPING_DOG_HAZARD = 3.0  # hazard factor for customers a call annoys
ORDINARY_HAZARD = 0.9  # everybody else: a small reassurance
CALLED_ADOPTION = 1.5  # adoption factor after a call (an offer was made) ...
SLEEPING_DOG_ADOPTION = 0.5  # ... and after an unwelcome one
RESPONSES = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")


@dataclass(frozen=True)
class Response:
    """How each customer of `who` would respond to a retention call this month."""

    kind: np.ndarray  # index into RESPONSES
    save_share: np.ndarray  # chance a leaver is turned round (0 for customers not leaving)
    hazard: np.ndarray  # factor on the churn hazard while the call's effect lasts
    adoption: np.ndarray  # factor on the adoption probabilities while it lasts

    def take(self, rows: slice | np.ndarray) -> Response:
        return Response(*(array[rows] for array in vars(self).values()))


@dataclass(frozen=True)
class CallRecord:
    """The calls of one month that reached a customer still at the bank.

    Attributes:
        called: Customer indices, sorted and unique.
        response: Each one's response, an index into RESPONSES.
        was_leaving: Decided to leave when called (counting down, sliding into dormancy
            or dormant).
        saved: A leaver the call turned round.
    """

    called: np.ndarray
    response: np.ndarray
    was_leaving: np.ndarray
    saved: np.ndarray


def call_response(
    population: Population,
    state: BankState,
    who: np.ndarray,
    age: np.ndarray,
    tenure_months: np.ndarray,
) -> Response:
    """The known, heterogeneous effect of a call, from what the bank can observe.

    Leavers with a fresh grievance (complaints show it) or whose salary or pension still
    arrives here can be turned round; other leavers (salary moved, money gone) leave
    whatever is done, and so do dormant customers. Aggrieved or new customers who have
    not decided, and those drifting away from their usual engagement, are persuadable;
    customers whose income is paid in elsewhere are not (the relationship has moved);
    young, app-only customers without a complaint find a call intrusive (sleeping dogs);
    for everybody else a call is a mild reassurance.
    """
    # Dormant customers decided long ago: nothing a call says brings them back.
    dormant = state.dormant[who]
    leaving = state.leaving[who] | dormant
    aggrieved = (state.grievance[who] >= 0.5) & ~dormant
    annoyed = ~leaving & ~aggrieved & (population.digital[who] >= 0.93) & (age[who] < 35)
    # Income paid in elsewhere: the relationship has already moved; a call changes nothing.
    moved = state.redirected[who] | (population.income_kind[who] == 0)
    unattached = ~leaving & ~annoyed & ~aggrieved & moved
    drifting = state.engagement[who] < population.engagement_mean[who] - 0.25
    persuadable = (
        ~leaving & ~annoyed & ~unattached & (aggrieved | drifting | (tenure_months[who] < 12))
    )
    # A leaver whose income still arrives here has not moved the relationship yet.
    attached = leaving & ~dormant & ~state.redirected[who] & (population.income_kind[who] != 0)
    kind = np.select(
        [leaving & (aggrieved | attached), leaving | unattached, annoyed, persuadable],
        [RESPONSES.index(name) for name in ("persuadable", "lost_cause", "sleeping_dog")]
        + [RESPONSES.index("persuadable")],
        default=RESPONSES.index("sure_thing"),
    ).astype(np.int8)
    save_share = np.select(
        [leaving & aggrieved, attached], [SAVE_SHARE_AGGRIEVED, SAVE_SHARE_ATTACHED], 0.0
    )
    hazard = np.select(
        [annoyed, unattached, persuadable | leaving],
        [SLEEPING_DOG_HAZARD, 1.0, PERSUADED_HAZARD],
        ORDINARY_HAZARD,
    )
    adoption = np.where(annoyed, SLEEPING_DOG_ADOPTION, CALLED_ADOPTION)
    return Response(kind, save_share, hazard, adoption)


def with_call_effects(
    population: Population,
    state: BankState,
    who: np.ndarray,
    age: np.ndarray,
    month: int,
    base_hazard: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Churn hazard and adoption probabilities of `who`, with past calls' effects applied."""
    factor = np.where(state.call_until[who] > month, 1.0, np.nan)
    hazard = base_hazard * np.nan_to_num(factor * state.call_hazard[who], nan=1.0)
    adoption = adoption_probabilities(population, state, who, age)
    adoption *= np.nan_to_num(factor * state.call_adoption[who], nan=1.0)[:, None]
    return hazard, np.minimum(adoption, MAX_ADOPTION)


def calls_by_month(
    calls: Mapping[dt.date, Iterable[str]], calendar: Calendar, n_customers: int
) -> dict[int, np.ndarray]:
    """Campaign days → month index; customer ids → customer indices (sorted, unique).

    Raises:
        ValueError: If a campaign day is not the first day of a simulated month after the
            first, or a customer id is malformed or not in this bank.
    """
    simulated = calendar.month_start_day[: calendar.months]
    months = {int(day): index for index, day in enumerate(simulated)}
    epoch = dt.date(1970, 1, 1)
    by_month = {}
    for day, customer_ids in calls.items():
        if isinstance(day, dt.datetime):
            day = day.date()
        month = months.get((day - epoch).days)
        if month is None or month == 0:
            raise ValueError(
                f"calls: campaign day {day} is not the first day of a simulated month "
                "after the first"
            )
        by_month[month] = _customer_indices(day, customer_ids, n_customers)
    return by_month


def _customer_indices(day: dt.date, customer_ids: Iterable[str], n_customers: int) -> np.ndarray:
    """Indices of the customers called on `day`, sorted and unique."""
    indices = []
    for customer_id in customer_ids:
        number = customer_id[1:]
        if not (number.isdigit() and customer_id == f"C{int(number):07d}"):
            raise ValueError(
                f"calls on {day}: {customer_id!r} is not a customer id (C and 7 digits)"
            )
        if not 1 <= int(number) <= n_customers:
            raise ValueError(f"calls on {day}: no customer {customer_id} in this bank")
        indices.append(int(number) - 1)
    return np.unique(np.asarray(indices, dtype=np.int64))


def apply_calls(
    call_rng: np.random.Generator,
    state: BankState,
    month: int,
    who: np.ndarray,
    called: np.ndarray,
    response: Response,
) -> CallRecord:
    """Calls at the month's start: saved leavers stop leaving; the call's effect starts.

    Args:
        call_rng: The calls' own generator, so the bank's draws stay those of a run without
            calls.
        state: The bank's state, changed in place.
        month: Index of the call month.
        who: Customers at risk at the month's start (sorted), whom `response` describes.
        called: Customers the calls reached, sorted and unique; those who left are skipped.
        response: Each customer of `who`'s response to a call.

    Returns:
        Who was called, their response, and whether a leaver was saved.
    """
    called = called[np.isin(called, who)]  # a customer who has left is not called
    position = np.searchsorted(who, called)
    reached = response.take(position)
    leaving = state.leaving[called] | state.dormant[called]
    saved = leaving & (call_rng.random(called.size) < reached.save_share)
    turned = called[saved]
    state.leaving[turned] = False
    state.route[turned] = STAYING
    state.decided_month[turned] = NEVER_DECIDED
    state.close_month[turned] = -1
    state.gone_month[turned] = -1
    state.signs[turned] = 0
    effective = ~leaving | saved
    state.call_until[called[effective]] = month + CALL_EFFECT_MONTHS
    state.call_hazard[called[effective]] = reached.hazard[effective]
    state.call_adoption[called[effective]] = reached.adoption[effective]
    return CallRecord(called, reached.kind, leaving, saved)
