"""Customer attributes that change over time, and their history with validity dates.

Each month some customers get a raise or a pay cut (and so perhaps a new income band and
segment), retake the suitability questionnaire (risk appetite one step up or down), switch
their preferred channel (digital customers towards the app), opt out of marketing or back
in, or move to another region. Leavers opt out of contact more often while on their way
out, and aggrieved customers a little more, so an attribute read as it stands at
extraction leaks a little of the outcome into earlier snapshots, as on a real extract.

A change happens at a moment of the month in which the customer acts (never for dormant
customers, who no longer talk to the bank) and steers behaviour from the next month on.
`AttributeHistory` records every version for `customer_attributes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from features.schema import CHANGEABLE_ATTRIBUTES
from simulation.catalogue import REGION_WEIGHTS, REGIONS
from simulation.population import income_band_for, preferred_channels, segment_for
from simulation.state import BankState, Month, Population
from simulation.timeline import DAY_US, NULL_TS

# Monthly chances.
INCOME_CHANGE = 0.01  # a raise, a new job, a pay cut: income x exp(N(0.03, 0.12))
RISK_RETEST = 0.004  # the questionnaire again: appetite one step up or down
CHANNEL_SWITCH = 0.006
OPT_OUT, OPT_OUT_LEAVING, OPT_OUT_AGGRIEVED, OPT_IN = 0.002, 0.15, 0.02, 0.01
MOVE = 0.002  # moves to another region


@dataclass
class AttributeHistory:
    """Versions of the changeable attributes recorded after the first, month by month.

    Attributes:
        customer: Customer index of each recorded part's versions.
        valid_from_us: When each version came into force.
        values: Each part's full set of contract attributes after the change.
    """

    customer: list[np.ndarray] = field(default_factory=list)
    valid_from_us: list[np.ndarray] = field(default_factory=list)
    values: list[dict[str, np.ndarray]] = field(default_factory=list)

    def versions(self, population: Population) -> tuple[np.ndarray, np.ndarray, dict, np.ndarray]:
        """Every version, first ones included (from joining, at midnight), in customer and
        time order.

        Returns:
            Customer index, valid_from, the attributes, and valid_to (NULL_TS where the
            version is still in force).
        """
        first = population.first_profile
        customer = np.concatenate([np.arange(population.size), *self.customer])
        joined_us = population.joined_day.astype(np.int64) * DAY_US
        valid_from = np.concatenate([joined_us, *self.valid_from_us])
        values = {
            name: np.concatenate([getattr(first, name), *(part[name] for part in self.values)])
            for name in CHANGEABLE_ATTRIBUTES
        }
        order = np.lexsort((valid_from, customer))
        customer, valid_from = customer[order], valid_from[order]
        values = {name: column[order] for name, column in values.items()}
        same_next = np.r_[customer[1:] == customer[:-1], False]
        valid_to = np.where(same_next, np.r_[valid_from[1:], 0], NULL_TS)
        return customer, valid_from, values, valid_to


def change_attributes(
    rng: np.random.Generator,
    population: Population,
    state: BankState,
    month: Month,
    history: AttributeHistory,
) -> None:
    """This month's attribute changes: the state's profile changes, the history records them.

    Args:
        rng: The attributes' own generator, so switching the mechanism leaves the bank's
            draws alone.
        population: The customers.
        state: The bank's state at the month's end; its profile changes in place.
        month: The month simulated.
        history: Where the new versions go.
    """
    profile = state.profile
    n = population.size
    u = rng.random((9, n))
    pay_factor = np.exp(rng.normal(0.03, 0.12, n))
    acting = month.at_risk & (month.own.end_us > month.own.start_us)
    before = {name: getattr(profile, name).copy() for name in CHANGEABLE_ATTRIBUTES}

    income = np.where(acting & (u[0] < INCOME_CHANGE), profile.income * pay_factor, profile.income)
    profile.income = income
    profile.income_band = np.where(acting, income_band_for(income), profile.income_band).astype(
        np.int8
    )
    profile.segment = segment_for(income, profile.income_band, profile.segment)
    step = np.where(u[2] < 0.5, -1, 1)
    retest = acting & (u[1] < RISK_RETEST)
    profile.risk_appetite = np.where(
        retest, np.clip(profile.risk_appetite + step, 1, 5), profile.risk_appetite
    ).astype(np.int8)
    age = population.age_on(int(month.window.month_start_us // DAY_US))
    switch = acting & (u[3] < CHANNEL_SWITCH)
    profile.preferred_channel = np.where(
        switch, preferred_channels(u[4] < population.digital, u[5], age), profile.preferred_channel
    ).astype(np.int8)
    opt_out = (
        OPT_OUT + OPT_OUT_LEAVING * month.counting_down + OPT_OUT_AGGRIEVED * (state.grievance >= 1)
    )
    flip = acting & np.where(profile.do_not_contact, u[6] < OPT_IN, u[6] < opt_out)
    profile.do_not_contact = profile.do_not_contact ^ flip
    cdf = np.cumsum(REGION_WEIGHTS) / np.sum(REGION_WEIGHTS)
    moved_to = np.minimum(np.searchsorted(cdf, u[8], side="right"), len(REGIONS) - 1)
    profile.region = np.where(acting & (u[7] < MOVE), moved_to, profile.region).astype(np.int8)

    changed = np.zeros(n, dtype=bool)
    for name in CHANGEABLE_ATTRIBUTES:
        changed |= getattr(profile, name) != before[name]
    who = np.flatnonzero(changed)
    history.customer.append(who)
    history.valid_from_us.append(month.own.uniform_times(rng, who))
    history.values.append({name: getattr(profile, name)[who] for name in CHANGEABLE_ATTRIBUTES})
