"""What no bank can give: the generator's own 90-day churn and adoption probabilities.

Every month from the second, for each customer at risk at the month's start: the chance of
closing every holding within 90 days (`p_churn`) and of being gone within 90 days by
closing everything or going dormant (`p_leave`), without a call and (closing) if a
retention call reached them then, how they respond to a call, whether they have already
decided to leave, and the chance of opening each product within three months.

The probabilities follow the generator's own process month by month over the horizon: the
decision hazard of every month it reaches (`hazard.decision_logit` looking ahead: the
calendar, the market path, fixed periods ending, the competitor, tenure and age move;
engagement and grievance follow their expected paths; products, balances and attributes
are held as they are at the month's start), the ways a decider leaves (at once, after a
countdown, or sliding into dormancy), and the label noise (deaths and the bank's closures)
that strikes whatever the customer does. A leaver's closing or last move is already drawn:
it falls within 90 days or not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.calls import CALL_EFFECT_MONTHS, Response
from simulation.departures import LeavingProcess
from simulation.hazard import decision_logit, noise_hazard, sigmoid
from simulation.state import CLOSING, GOING_DORMANT, Bank
from simulation.timeline import DAY_US, SECOND_US

CHURN_HORIZON_DAYS = 90
ADOPTION_HORIZON_MONTHS = 3


@dataclass(frozen=True)
class MonthTruth:
    """The truth about the customers at risk at one month's start.

    Attributes:
        who: Customer indices.
        p_churn: Chance of closing everything within 90 days without a call.
        p_leave: Chance of closing everything or going dormant within 90 days.
        p_churn_if_called: Chance of closing everything if a retention call reached the
            customer now.
        response: How each would respond to a call, an index into `calls.RESPONSES`.
        leaving: Already decided to leave: counting down to closing, sliding into dormancy
            or dormant.
        p_open: [customers, products]: chance of opening each product within the adoption
            horizon, NaN where it is held.
    """

    who: np.ndarray
    p_churn: np.ndarray
    p_leave: np.ndarray
    p_churn_if_called: np.ndarray
    response: np.ndarray
    leaving: np.ndarray
    p_open: np.ndarray


def month_truth(
    bank: Bank,
    process: LeavingProcess,
    month: int,
    who: np.ndarray,
    adoption: np.ndarray,
    response: Response,
) -> MonthTruth:
    """The truth at the month's start, before this month's calls change anything.

    Args:
        bank: The bank at the month's start.
        process: How deciders leave.
        month: Index of the month.
        who: Customers at risk.
        adoption: Their monthly adoption probabilities [customers, products].
        response: How each would respond to a call now.
    """
    state, calendar = bank.state, bank.calendar
    cutoff = calendar.month_start_us[month] + CHURN_HORIZON_DAYS * DAY_US
    before = _shares_before(calendar.month_start_us, month, cutoff)
    reach = int(np.flatnonzero(before > 0).max()) + 1
    ahead = np.arange(reach)
    base = sigmoid(np.stack([decision_logit(bank, who, month, j) for j in ahead], axis=1))
    in_force = state.call_until[who][:, None] > month + ahead[None, :]
    hazard = base * np.where(in_force, state.call_hazard[who][:, None], 1.0)
    noise = np.stack(
        [np.broadcast_to(noise_hazard(bank, who, month + j), who.shape) for j in ahead], axis=1
    )
    no_noise = np.prod(1 - noise * before[None, :reach], axis=1)

    leaving, dormant = state.leaving[who], state.dormant[who]
    decided = leaving | dormant
    closes_in_time = leaving & (state.route[who] == CLOSING) & (state.churn_us[who] < cutoff)
    goes_in_time = leaving & (state.route[who] == GOING_DORMANT) & (state.gone_us[who] < cutoff)
    close_by_decision, leave_by_decision = _decided_by_cutoff(hazard, before, process)
    p_churn = 1 - (1 - np.where(decided, closes_in_time, close_by_decision)) * no_noise
    gone = closes_in_time | goes_in_time | dormant
    p_leave = 1 - (1 - np.where(decided, gone, leave_by_decision)) * no_noise

    # A call now replaces any earlier one: its factor holds for CALL_EFFECT_MONTHS.
    factor = np.where(ahead[None, :] < CALL_EFFECT_MONTHS, response.hazard[:, None], 1.0)
    after_call, _ = _decided_by_cutoff(base * factor, before, process)
    p_after_call = 1 - (1 - after_call) * no_noise
    p_if_called = np.where(
        decided,
        (1 - response.save_share) * p_churn + response.save_share * p_after_call,
        p_after_call,
    )
    p_open = 1 - (1 - adoption) ** ADOPTION_HORIZON_MONTHS
    return MonthTruth(who, p_churn, p_leave, p_if_called, response.kind, decided, p_open)


def _shares_before(month_start_us: np.ndarray, month: int, cutoff: int) -> np.ndarray:
    """Share of each month from `month` on whose close times fall before the cut-off."""
    later = np.arange(month, month_start_us.size - 1)
    span = month_start_us[later + 1] - month_start_us[later] - SECOND_US
    return np.clip((cutoff - month_start_us[later]) / span, 0.0, 1.0)


def _decided_by_cutoff(
    hazard: np.ndarray, before: np.ndarray, process: LeavingProcess
) -> tuple[np.ndarray, np.ndarray]:
    """P(closed by a decision before the cut-off), P(closed or gone quiet by then).

    Args:
        hazard: [customers, months ahead]: the decision hazard of each month.
        before: Share of each month ahead before the cut-off (longer than `hazard`'s
            months by the longest countdown or slide).
        process: How deciders leave: deciding in month j closes in month j (not warned),
            in month j + L after a countdown L, or goes quiet in month j + S.
    """
    closing = np.zeros(hazard.shape[0])
    leaving = np.zeros(hazard.shape[0])
    undecided = np.ones(hazard.shape[0])
    for j in range(hazard.shape[1]):
        after_countdown = sum(
            weight * before[j + length]
            for length, weight in zip(
                process.countdown_months, process.countdown_weights, strict=True
            )
            if j + length < before.size
        )
        after_slide = sum(
            weight * before[j + length]
            for length, weight in zip(process.slide_months, process.slide_weights, strict=True)
            if j + length < before.size
        )
        warned = process.warned_share
        close_share = (1 - process.silent_share) * (
            (1 - warned) * before[j] + warned * after_countdown
        )
        quiet_share = process.silent_share * after_slide
        chance = undecided * hazard[:, j]
        closing += chance * close_share
        leaving += chance * (close_share + quiet_share)
        undecided *= 1 - hazard[:, j]
    return closing, leaving
