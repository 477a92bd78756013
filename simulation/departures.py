"""How customers leave the synthetic bank, and the dips that only look like leaving.

Each month a customer who has not decided yet decides to leave with the churn hazard
(`simulation.hazard`). A decider either closes everything, at once or after a countdown,
or (silent churn) slides into dormancy: stops using the account, moves the money out and
leaves it open with a few euros on it. Counting down or sliding, a leaver shows each
warning sign (salary moved, money moved out, fewer logins, fewer purchases) only with some
probability. Deaths and closures by the bank end a relationship with no warning at all.
Customers who are not leaving now and then dip for a month or two (salary missing, money
moved out, fewer logins) and recover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.config import SynthMechanisms
from simulation.hazard import death_share
from simulation.state import (
    BANK_CLOSURE,
    CLOSING,
    DEATH,
    GOING_DORMANT,
    LOGINS_SIGN,
    MONEY_SIGN,
    NEVER_DECIDED,
    SALARY_SIGN,
    SPENDING_SIGN,
    STAYING,
    Bank,
    BankState,
)

JOB_CHANGE_RATE = 0.0015  # monthly chance a staying customer's salary moves to another bank
SIGNS = (SALARY_SIGN, MONEY_SIGN, LOGINS_SIGN, SPENDING_SIGN)
# Look-alike dips: monthly chance one starts, its length, and the chance of each sign.
DIP_RATE = 0.012
DIP_MONTHS, DIP_WEIGHTS = np.array([1, 2]), np.array([0.6, 0.4])
DIP_SIGN_SHARES = np.array([0.5, 0.6, 0.5, 0.4])
SLIDE_MONTHS, SLIDE_WEIGHTS = np.array([1, 2, 3]), np.array([0.4, 0.4, 0.2])
SILENT_SHARE = 0.2  # deciders who go dormant instead of closing, with silent churn


@dataclass(frozen=True)
class LeavingProcess:
    """How deciders leave.

    Attributes:
        silent_share: Share of deciders who slide into dormancy instead of closing.
        warned_share: Share of closing deciders who count down first (the rest close in
            the month they decide).
        countdown_months: Countdown lengths, with `countdown_weights`.
        countdown_weights: Their probabilities.
        slide_months: Months a silent leaver takes to go quiet, with `slide_weights`.
        slide_weights: Their probabilities.
        sign_shares: Chance a leaver shows each sign of `SIGNS` (salary paid elsewhere,
            money moved out, fewer logins, fewer purchases).
        product_close: Monthly chance a leaver closes each product other than the current
            account.
    """

    silent_share: float
    warned_share: float
    countdown_months: np.ndarray
    countdown_weights: np.ndarray
    slide_months: np.ndarray
    slide_weights: np.ndarray
    sign_shares: np.ndarray
    product_close: float

    @property
    def longest(self) -> int:
        return int(max(self.countdown_months.max(), self.slide_months.max()))

    def paths(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every way a leaver who counts down or slides can go: route, length, probability."""
        closing = (1 - self.silent_share) * self.warned_share * self.countdown_weights
        sliding = self.silent_share * self.slide_weights
        route = np.r_[np.full(closing.size, CLOSING), np.full(sliding.size, GOING_DORMANT)]
        return route, np.r_[self.countdown_months, self.slide_months], np.r_[closing, sliding]


NOISY_COUNTDOWN = {
    "warned_share": 0.4,
    "countdown_months": np.array([1, 2, 3]),
    "countdown_weights": np.array([0.45, 0.35, 0.2]),
    "sign_shares": np.array([0.55, 0.55, 0.5, 0.5]),
    "product_close": 0.2,
}
# The countdown before issue 14: three in four leavers warned, 2-4 months, every sign
# (but the salary, moved by 85 %).
OLD_COUNTDOWN = {
    "warned_share": 0.75,
    "countdown_months": np.array([2, 3, 4]),
    "countdown_weights": np.array([0.35, 0.4, 0.25]),
    "sign_shares": np.array([0.85, 1.0, 1.0, 1.0]),
    "product_close": 0.35,
}
LONGEST_COUNTDOWN = 4  # the longest countdown or slide of either process


def leaving_process(mechanisms: SynthMechanisms) -> LeavingProcess:
    """The leaving process the mechanisms describe."""
    countdown = NOISY_COUNTDOWN if mechanisms.noisy_countdown else OLD_COUNTDOWN
    return LeavingProcess(
        silent_share=SILENT_SHARE if mechanisms.silent_churn else 0.0,
        slide_months=SLIDE_MONTHS,
        slide_weights=SLIDE_WEIGHTS,
        **countdown,
    )


def decide_departures(
    rng: np.random.Generator,
    bank: Bank,
    process: LeavingProcess,
    month: int,
    who: np.ndarray,
    hazard: np.ndarray,
    noise: np.ndarray | float,
) -> None:
    """This month's closures nobody decided, churn decisions, job changes and dips.

    Args:
        rng: The bank's generator; the same number of draws whatever is switched on.
        bank: The bank at the month's start; its state is changed in place.
        process: How deciders leave.
        month: Index of the month.
        who: Customers at risk at the month's start.
        hazard: Their churn hazard this month.
        noise: Their chance of a closure nobody decided this month.
    """
    state, calendar = bank.state, bank.calendar
    u = rng.random((12, who.size))
    close_uniform = u[0]
    noise_hit = (u[1] < noise) & (state.close_month[who] != month)
    struck = who[noise_hit]
    state.noise_cause[struck] = np.where(
        u[2][noise_hit] < death_share(bank, struck, month), DEATH, BANK_CLOSURE
    )
    _close_this_month(
        state,
        calendar.close_time_us(np.full(struck.size, month), close_uniform[noise_hit]),
        struck,
        month,
    )

    free = ~state.leaving[who] & ~state.dormant[who] & ~noise_hit
    decides = free & (u[3] < hazard)
    silent = decides & (u[4] < process.silent_share)
    warned = decides & ~silent & (u[5] < process.warned_share)
    countdown = _pick(process.countdown_months, process.countdown_weights, u[6])
    slide = _pick(process.slide_months, process.slide_weights, u[6])
    closing = decides & ~silent
    close_month = month + np.where(warned, countdown, 0)
    deciders = who[closing]
    state.route[deciders] = CLOSING
    state.close_month[deciders] = close_month[closing]
    state.churn_us[deciders] = calendar.close_time_us(close_month[closing], close_uniform[closing])
    sliders = who[silent]
    state.route[sliders] = GOING_DORMANT
    state.gone_month[sliders] = month + slide[silent]
    state.gone_us[sliders] = calendar.close_time_us(month + slide[silent], close_uniform[silent])
    state.decided_month[who[decides]] = month
    showing = warned | silent
    signs = _signs(u[7:11], process.sign_shares)
    state.leaving[who[showing]] = True
    state.signs[who[showing]] = signs[showing]
    state.redirected[who[showing & (signs & SALARY_SIGN > 0)]] = True
    # Now and then a salaried customer who stays changes employer and has the new salary
    # paid elsewhere, so that a stopped salary is a strong sign of leaving, not proof.
    job_change = free & ~decides & (u[11] < JOB_CHANGE_RATE)
    state.redirected[who[job_change & (bank.population.income_kind[who] == 1)]] = True
    _start_dips(rng, state, month, who[free & ~decides], bank.mechanisms.false_alarms)


def _close_this_month(state: BankState, close_us: np.ndarray, who: np.ndarray, month: int) -> None:
    """Everything of `who` closes at `close_us` this month, whatever they were doing."""
    state.route[who] = CLOSING
    state.close_month[who] = month
    state.churn_us[who] = close_us
    state.gone_month[who] = -1
    state.leaving[who] = False


def _pick(values: np.ndarray, weights: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """One of `values` per uniform draw, with the given probabilities."""
    cdf = np.cumsum(weights) / np.sum(weights)
    return values[np.minimum(np.searchsorted(cdf, uniform, side="right"), values.size - 1)]


def _signs(uniforms: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """A bitmask of signs per customer: sign i shown when its uniform is below shares[i]."""
    bits = np.zeros(uniforms.shape[1], dtype=np.uint8)
    for sign, uniform, share in zip(SIGNS, uniforms, shares, strict=True):
        bits |= np.where(uniform < share, sign, 0).astype(np.uint8)
    return bits


def _start_dips(
    rng: np.random.Generator, state: BankState, month: int, who: np.ndarray, on: bool
) -> None:
    """Some customers who stay start a dip of a month or two, with some of the signs."""
    u = rng.random((6, who.size))  # drawn either way: the same stream with dips off
    starts = on & (state.dip_until[who] <= month) & (u[0] < DIP_RATE)
    dippers = who[starts]
    state.dip_until[dippers] = month + _pick(DIP_MONTHS, DIP_WEIGHTS, u[1][starts])
    state.dip_signs[dippers] = _signs(u[2:6][:, starts], DIP_SIGN_SHARES)


def seed_leavers(
    rng: np.random.Generator, bank: Bank, process: LeavingProcess, hazard: np.ndarray
) -> np.ndarray:
    """Put the customers who decided in the months before the start on their way out.

    Without them the first months would show only leavers without warning signs. A
    customer decided `lag` months before the start with the hazard at the start, along a
    path (countdown or slide) still running at the start.

    Returns:
        Months since each customer decided (0 for those not leaving).
    """
    state, calendar = bank.state, bank.calendar
    n = hazard.size
    route, length, weight = process.paths()
    lags = np.arange(1, process.longest + 1)
    # (lag, path) pairs with the path still running after `lag` months.
    lag_of, path_of = np.nonzero(lags[:, None] <= length[None, :])
    chance = hazard[:, None] * weight[path_of][None, :]
    cumulative = np.cumsum(chance, axis=1)
    u = rng.random((6, n))
    base = bank.population.join_month < 0
    decided = base & (u[0] < cumulative[:, -1])
    pick = np.minimum((u[0][:, None] >= cumulative).sum(axis=1), path_of.size - 1)
    lag = np.where(decided, lags[lag_of[pick]], 0)
    end_month = length[path_of[pick]] - lag
    closing = decided & (route[path_of[pick]] == CLOSING)
    sliding = decided & ~closing
    state.leaving[:] = decided
    state.route[:] = np.where(decided, route[path_of[pick]], STAYING)
    state.decided_month[:] = np.where(decided, -lag, NEVER_DECIDED)
    state.close_month[:] = np.where(closing, end_month, -1)
    state.churn_us[closing] = calendar.close_time_us(end_month[closing], u[1][closing])
    state.gone_month[:] = np.where(sliding, end_month, -1)
    state.gone_us[sliding] = calendar.close_time_us(end_month[sliding], u[1][sliding])
    signs = _signs(u[2:6], process.sign_shares)
    state.signs[:] = np.where(decided, signs, 0)
    state.redirected[:] = decided & (signs & SALARY_SIGN > 0)
    return np.where(decided & (signs & MONEY_SIGN > 0), lag, 0)
