"""What no bank can give: the generator's own 90-day churn and adoption probabilities.

Every month from the second, for each customer at risk at the month's start: the chance of
closing every holding within 90 days without a call and if a retention call reached them
then, how they respond to a call, and the chance of opening each product within three
months. Models are judged against labels from the tables; the truth shows how much signal
there was to find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.calls import Response
from simulation.dynamics import COUNTDOWN_MONTHS, COUNTDOWN_WEIGHTS, WARNED_SHARE
from simulation.state import BankState
from simulation.timeline import DAY_US, SECOND_US, Calendar

CHURN_HORIZON_DAYS = 90
ADOPTION_HORIZON_MONTHS = 3


@dataclass(frozen=True)
class MonthTruth:
    """The truth about the customers at risk at one month's start.

    Attributes:
        who: Customer indices.
        p_churn: Chance of closing everything within 90 days without a call.
        p_churn_if_called: The same if a retention call reached the customer now.
        response: How each would respond to a call, an index into `calls.RESPONSES`.
        leaving: In the countdown already (their closing time is drawn).
        p_open: [customers, products]: chance of opening each product within the adoption
            horizon, NaN where it is held.
    """

    who: np.ndarray
    p_churn: np.ndarray
    p_churn_if_called: np.ndarray
    response: np.ndarray
    leaving: np.ndarray
    p_open: np.ndarray


def month_truth(
    calendar: Calendar,
    month: int,
    state: BankState,
    who: np.ndarray,
    hazard: np.ndarray,
    base_hazard: np.ndarray,
    adoption: np.ndarray,
    response: Response,
) -> MonthTruth:
    """The truth at the month's start, before this month's calls change anything.

    Args:
        calendar: The simulation's months.
        month: Index of the month.
        state: The bank's state at the month's start.
        who: Customers at risk.
        hazard: Their monthly churn hazard, with past calls' effects.
        base_hazard: Their monthly churn hazard without any call's effect.
        adoption: Their monthly adoption probabilities [customers, products].
        response: How each would respond to a call now.
    """
    leaving = state.leaving[who]
    cutoff = calendar.month_start_us[month] + CHURN_HORIZON_DAYS * DAY_US
    # A leaver's closing time is already drawn: it either falls within 90 days or not.
    certain = (state.churn_us[who] < cutoff).astype(np.float64)
    p_churn = np.where(leaving, certain, churn_probability_90d(calendar, month, hazard))
    p_after_call = churn_probability_90d(calendar, month, base_hazard * response.hazard)
    p_if_called = np.where(
        leaving,
        (1 - response.save_share) * certain + response.save_share * p_after_call,
        p_after_call,
    )
    p_open = 1 - (1 - adoption) ** ADOPTION_HORIZON_MONTHS
    return MonthTruth(who, p_churn, p_if_called, response.kind, leaving, p_open)


def churn_probability_90d(calendar: Calendar, month: int, hazard: np.ndarray) -> np.ndarray:
    """P(all holdings closed within 90 days of the month's start), for customers not leaving.

    The monthly hazard is held constant. Deciding in month t+j closes, with probability
    1 - WARNED_SHARE, at a uniform time in that month, and otherwise at a uniform time in
    month t+j+L for a countdown L; only closes before the cut-off count.
    """
    cutoff = calendar.month_start_us[month] + CHURN_HORIZON_DAYS * DAY_US
    later = month + np.arange(len(calendar.month_start_us) - month - 1)
    span = calendar.month_length_us(later) - SECOND_US
    # Share of month t+k whose close times fall before the cut-off.
    before = np.clip((cutoff - calendar.month_start_us[later]) / span, 0.0, 1.0)
    reach = int(np.flatnonzero(before > 0).max()) + 1
    probability = np.zeros_like(hazard)
    survival = np.ones_like(hazard)
    for j in range(reach):
        warned = sum(
            w * before[j + length]
            for length, w in zip(COUNTDOWN_MONTHS, COUNTDOWN_WEIGHTS, strict=True)
            if j + length < before.size
        )
        share = (1 - WARNED_SHARE) * before[j] + WARNED_SHARE * warned
        probability += survival * hazard * share
        survival = survival * (1 - hazard)
    return probability
