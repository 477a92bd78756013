"""The synthetic bank's calendar of outside events: market rates, fees, seasons, a competitor.

Everything here is a function of the month alone, drawn or fixed before the first month is
simulated, so the truth can look ahead over its 90-day horizon: the market savings rate (a
mean-reverting path with a hiking cycle) and the bank's own rate, which follows it with a
lag; the monthly fee by segment, raised at `fee_change_month`; January, bonus and holiday
months; and the month a competitor launches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.config import SynthMechanisms
from simulation.timeline import Calendar

# Monthly account fee by segment (mass, affluent, private, small business), before and
# after the fee change.
FEES = np.array([4.5, 8.0, 0.0, 12.0])
RAISED_FEES = np.array([7.0, 10.0, 0.0, 15.0])
BONUS_CALENDAR_MONTHS = (6, 12)  # 13th-month salaries and summer bonuses
HOLIDAY_CALENDAR_MONTH = 12
# The market's savings rate (% a year): a level it reverts to, a hiking cycle that adds
# HIKE points over about a year from HIKE_START_MONTH, and monthly noise.
MARKET_LEVEL = 1.0
HIKE = 3.0
HIKE_START_MONTH = 2
HIKE_MONTHS = 12
MARKET_REVERSION = 0.8
MARKET_NOISE = 0.12
# The bank moves its rate a quarter of the way towards the market less its margin, two
# months late: the gap is the margin in calm times and widens while rates rise.
BANK_LAG_MONTHS = 2
BANK_ADJUSTMENT = 0.25
BANK_MARGIN = 0.6
FLAT_MARKET_RATE, FLAT_BANK_RATE = 2.0, 1.5  # without the market mechanism


@dataclass(frozen=True)
class Economy:
    """Month-indexed series over the calendar's months (simulated and spare).

    Attributes:
        market_rate: Best savings rate on the market, % a year, published at each month's
            start.
        bank_rate: The bank's own savings rate, % a year, published with it.
        fee_by_segment: [months, segments] monthly account fee.
        months_since_fee_change: Months since the fee change (0 in its month), -1 before
            it or without one.
        calendar_month: 1..12.
        bonus: Salaried customers may get a bonus with their salary this month.
        holiday: Holiday spending this month.
        january: January switching this month.
        competitor: The competitor is on the market this month.
    """

    market_rate: np.ndarray
    bank_rate: np.ndarray
    fee_by_segment: np.ndarray
    months_since_fee_change: np.ndarray
    calendar_month: np.ndarray
    bonus: np.ndarray
    holiday: np.ndarray
    january: np.ndarray
    competitor: np.ndarray

    @property
    def rate_gap(self) -> np.ndarray:
        """Market minus bank savings rate, percentage points."""
        return self.market_rate - self.bank_rate


def draw_economy(
    rng: np.random.Generator, calendar: Calendar, mechanisms: SynthMechanisms
) -> Economy:
    """The outside events of every month of the calendar.

    Args:
        rng: The market's own generator, so switching the mechanism leaves the bank's
            draws alone.
        calendar: The simulation's months.
        mechanisms: Which mechanisms are on.
    """
    n_months = calendar.month_start_day.size
    index = np.arange(n_months)
    calendar_month = (
        calendar.month_start_day.astype("datetime64[D]").astype("datetime64[M]").astype(int) % 12
        + 1
    )
    market, bank = _rate_paths(rng, n_months, mechanisms.market_rates)
    since = index - mechanisms.fee_change_month
    fee_changed = mechanisms.fee_change & (since >= 0)
    seasonal = mechanisms.seasonality
    return Economy(
        market_rate=market,
        bank_rate=bank,
        fee_by_segment=np.where(fee_changed[:, None], RAISED_FEES, FEES),
        months_since_fee_change=np.where(fee_changed, since, -1),
        calendar_month=calendar_month,
        bonus=seasonal & np.isin(calendar_month, BONUS_CALENDAR_MONTHS),
        holiday=seasonal & (calendar_month == HOLIDAY_CALENDAR_MONTH),
        january=seasonal & (calendar_month == 1),
        competitor=mechanisms.regime_change & (index >= mechanisms.regime_change_month),
    )


def _rate_paths(
    rng: np.random.Generator, n_months: int, moving: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The market's and the bank's savings rates, % a year, rounded to basis points."""
    noise = rng.normal(0.0, MARKET_NOISE, n_months)  # drawn either way: same stream
    if not moving:
        return np.full(n_months, FLAT_MARKET_RATE), np.full(n_months, FLAT_BANK_RATE)
    index = np.arange(n_months)
    cycle = HIKE / (1 + np.exp(-(index - HIKE_START_MONTH - HIKE_MONTHS / 2) / (HIKE_MONTHS / 8)))
    deviation = np.zeros(n_months)
    for month in range(1, n_months):
        deviation[month] = MARKET_REVERSION * deviation[month - 1] + noise[month]
    market = np.maximum(MARKET_LEVEL + cycle + deviation, 0.05)
    bank = np.zeros(n_months)
    bank[0] = market[0] - BANK_MARGIN
    for month in range(1, n_months):
        target = market[max(month - BANK_LAG_MONTHS, 0)] - BANK_MARGIN
        bank[month] = bank[month - 1] + BANK_ADJUSTMENT * (target - bank[month - 1])
    return np.round(market, 2), np.round(np.maximum(bank, 0.05), 2)
