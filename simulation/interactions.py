"""The synthetic bank's contacts of a month: logins, visits, complaints, calls, surveys.

Contacts follow engagement and change it: disengaged customers complain more, slow or
unresolved complaints leave a grievance and lower engagement, a good callback raises it a
little. Leavers who show the sign (and customers in a dip) log in less; leavers come in
less. Every contact falls in the customer's own window: none once they are dormant. The
steps run in a fixed order, each drawing from the bank's generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from features.schema import CONTACT_CHANNELS, INTERACTION_KINDS, INTERACTION_OUTCOMES
from simulation.state import BankState, Month, Population
from simulation.timeline import DAY_US, HOUR_US, NULL_TS, event_owners, whole_seconds

KIND = {name: INTERACTION_KINDS.index(name) for name in INTERACTION_KINDS}
OUTCOME = {name: INTERACTION_OUTCOMES.index(name) for name in INTERACTION_OUTCOMES}
CONTACT = {name: CONTACT_CHANNELS.index(name) for name in CONTACT_CHANNELS}


@dataclass(frozen=True)
class Experience:
    """What the month's contacts did to each customer.

    Attributes:
        shocks: Change of engagement (float64).
        grievance: New grievance, added to the decayed old one.
    """

    shocks: np.ndarray
    grievance: np.ndarray


class InteractionLog:
    """One month's interactions, gathered as numpy columns; 0 or -1 (NULL_TS) is missing."""

    FIELDS = (
        ("customer", np.int32),
        ("ts", np.int64),
        ("kind", np.int8),
        ("severity", np.int8),
        ("resolved", np.int64),
        ("satisfaction", np.int8),
        ("outcome", np.int8),
        ("channel", np.int8),
    )

    def __init__(self) -> None:
        self.rows: list[tuple[np.ndarray, ...]] = []

    def record(
        self,
        customer: np.ndarray,
        ts: np.ndarray,
        kind: int,
        severity: np.ndarray | int = 0,
        resolved: np.ndarray | int = NULL_TS,
        satisfaction: np.ndarray | int = 0,
        outcome: np.ndarray | int = -1,
        channel: np.ndarray | int = -1,
    ) -> None:
        values = (customer, ts, kind, severity, resolved, satisfaction, outcome, channel)
        self.rows.append(
            tuple(
                np.broadcast_to(np.asarray(value, dtype=dtype), (customer.size,))
                for value, (_, dtype) in zip(values, self.FIELDS, strict=True)
            )
        )

    def columns(self) -> list[np.ndarray]:
        """The month's interactions, one array per field of `FIELDS`."""
        return [np.concatenate(part) for part in zip(*self.rows, strict=True)]


@dataclass(frozen=True)
class _Contacts:
    """What the month's contact steps read, and the log they write to."""

    rng: np.random.Generator
    population: Population
    state: BankState
    month: Month
    extracted_us: int
    log: InteractionLog = field(default_factory=InteractionLog)

    @cached_property
    def share(self) -> np.ndarray:
        return self.month.own.share

    def resolution(self, ts: np.ndarray, hours: np.ndarray) -> np.ndarray:
        """When each contact is resolved, NULL_TS if not by the extraction."""
        resolved = ts + whole_seconds(hours * HOUR_US)
        return np.where(resolved <= self.extracted_us, resolved, NULL_TS)

    def contact_channel(self, who: np.ndarray) -> np.ndarray:
        # Customers mostly get in touch the way they like to be contacted; else by phone.
        return np.where(
            self.rng.random(who.size) < 0.6,
            self.state.profile.preferred_channel[who],
            CONTACT["phone"],
        )

    def score(self, who: np.ndarray, shift: np.ndarray | float) -> np.ndarray:
        """Satisfaction scores 1..5, following engagement."""
        raw = 3.3 + 0.9 * self.state.engagement[who] + shift + self.rng.normal(0, 0.8, who.size)
        return np.clip(np.round(raw), 1, 5)


@dataclass(frozen=True)
class _Complaints:
    """The month's complaints, which the callbacks follow up."""

    who: np.ndarray
    ts: np.ndarray
    severity: np.ndarray
    hours: np.ndarray  # time to resolution
    never: np.ndarray  # never resolved
    slow: np.ndarray  # resolved, but slowly

    def experience(self, n: int) -> Experience:
        """Engagement lost and grievance taken, most after slow or unresolved complaints."""
        who, severity, slow, never = self.who, self.severity, self.slow, self.never
        # float64 even in a month without complaints (bincount of nothing returns integers).
        shocks = -np.bincount(
            who, weights=0.1 * severity + 0.35 * slow + 0.6 * never, minlength=n
        ).astype(np.float64)
        grievance = np.bincount(
            who, weights=0.25 + 0.15 * (severity - 1) + 0.8 * slow + 1.2 * never, minlength=n
        )
        return Experience(shocks, grievance)


def record_interactions(
    rng: np.random.Generator,
    population: Population,
    state: BankState,
    month: Month,
    extracted_us: int,
) -> tuple[InteractionLog, Experience]:
    """Record the month's contacts.

    Returns:
        The month's interactions, and the shock to engagement and the new grievance each
        customer took from them.
    """
    contacts = _Contacts(rng, population, state, month, extracted_us)
    _record_logins_and_visits(contacts)
    complaints = _record_complaints(contacts)
    hurt = complaints.experience(population.size)
    lifted = _record_callbacks(contacts, complaints)
    _record_service_requests_and_surveys(contacts)
    return contacts.log, Experience(hurt.shocks + lifted, hurt.grievance)


def _record_logins_and_visits(c: _Contacts) -> None:
    """Logins and branch visits: the digital log in, the others come in; leavers fade away."""
    rng, window, digital = c.rng, c.month.own, c.population.digital
    counting_down = c.month.counting_down
    fading = np.where(c.month.fewer_logins, 0.35, 1.0)
    engagement = c.state.engagement
    logins = np.minimum(10.0 * digital**1.5 * np.exp(0.4 * engagement), 15.0) * fading * c.share
    who = event_owners(rng.poisson(logins))
    c.log.record(who, window.uniform_times(rng, who), KIND["digital_login"], channel=CONTACT["app"])
    visits = 0.5 * (1 - digital) ** 1.5 * np.where(counting_down, 0.7, 1.0) * c.share
    who = event_owners(rng.poisson(visits))
    c.log.record(
        who, window.uniform_times(rng, who), KIND["branch_visit"], channel=CONTACT["in_person"]
    )


def _record_complaints(c: _Contacts) -> _Complaints:
    """Complaints come more often from disengaged customers. Most are settled within hours;
    some are slow (over 24 h, over 4 h for a major one) and about 5 % never are."""
    rng = c.rng
    engagement = c.state.engagement
    complaint_rate = 0.01 * np.exp(-0.9 * engagement) * np.where(c.month.counting_down, 1.5, 1.0)
    who = event_owners(rng.poisson(complaint_rate * c.share))
    ts = c.month.own.uniform_times(rng, who)
    severity = rng.choice(3, who.size, p=[0.7, 0.25, 0.05]) + 1
    median_hours = np.array([0.0, 8.0, 12.0, 3.0])[severity]
    hours = median_hours * rng.lognormal(0, 1.1, who.size)
    never = rng.random(who.size) < 0.05
    slow = ~never & ((hours > 24) | ((severity == 3) & (hours > 4)))
    resolved = np.where(never, NULL_TS, c.resolution(ts, hours))
    c.log.record(
        who,
        ts,
        KIND["complaint"],
        severity,
        resolved,
        outcome=np.where(resolved == NULL_TS, OUTCOME["unresolved"], OUTCOME["resolved"]),
        channel=c.contact_channel(who),
    )
    return _Complaints(who, ts, severity, hours, never, slow)


def _record_callbacks(c: _Contacts, complaints: _Complaints) -> np.ndarray:
    """Callbacks after settled complaints, welcome calls and service calls.

    Returns:
        The change of engagement they brought: up after a good call, down after a bad one.
    """
    rng, window, population = c.rng, c.month.own, c.population
    n = population.size
    who, hours = complaints.who, complaints.hours
    # After a settled complaint the bank calls back within a week, when the month allows.
    callback = ~complaints.never & (rng.random(who.size) < 0.6)
    follow_ts = complaints.ts + whole_seconds((hours + 1 + 167 * rng.random(who.size)) * HOUR_US)
    callback &= window.contains(who, follow_ts)
    callers, call_ts, after_slow = who[callback], follow_ts[callback], complaints.slow[callback]
    # New customers get a welcome call in their first week, and some a service call.
    newcomer = np.flatnonzero(c.month.arriving & (rng.random(n) < 0.7))
    welcome_ts = window.start_us[newcomer] + whole_seconds(
        (1 + 6 * rng.random(newcomer.size)) * DAY_US
    )
    keep = window.contains(newcomer, welcome_ts)
    service = event_owners(rng.poisson(0.02 * c.share))
    callers = np.concatenate([callers, newcomer[keep], service])
    call_ts = np.concatenate([call_ts, welcome_ts[keep], window.uniform_times(rng, service)])
    after_slow = np.concatenate([after_slow, np.zeros(keep.sum() + service.size, dtype=bool)])
    reached = rng.random(callers.size) < 0.7
    satisfaction = np.where(reached, c.score(callers, -0.8 * after_slow), 0)
    c.log.record(
        callers.astype(np.int32),
        call_ts,
        KIND["callback"],
        satisfaction=satisfaction,
        outcome=np.where(reached, OUTCOME["reached"], OUTCOME["not_reached"]),
        channel=c.state.profile.preferred_channel[callers],
    )
    return np.bincount(
        callers,
        weights=0.2 * (satisfaction >= 4) - 0.1 * (reached & (satisfaction <= 2)),
        minlength=n,
    )


def _record_service_requests_and_surveys(c: _Contacts) -> None:
    """Service requests are all settled, some with a survey afterwards; and now and then a
    survey on its own. Scores follow engagement."""
    rng, window, digital = c.rng, c.month.own, c.population.digital
    who = event_owners(rng.poisson(0.04 * c.share))
    ts = window.uniform_times(rng, who)
    resolved = c.resolution(ts, 20 * rng.lognormal(0, 0.8, who.size))
    c.log.record(
        who,
        ts,
        KIND["service_request"],
        resolved=resolved,
        outcome=np.where(resolved == NULL_TS, OUTCOME["unresolved"], OUTCOME["resolved"]),
        channel=c.contact_channel(who),
    )
    survey_ts = resolved + whole_seconds((1 + 47 * rng.random(who.size)) * HOUR_US)
    surveyed = (resolved != NULL_TS) & (rng.random(who.size) < 0.25)
    surveyed &= window.contains(who, np.where(surveyed, survey_ts, 0))
    spontaneous = event_owners(rng.poisson(0.03 * c.share))
    who = np.concatenate([who[surveyed], spontaneous]).astype(np.int32)
    ts = np.concatenate([survey_ts[surveyed], window.uniform_times(rng, spontaneous)])
    c.log.record(
        who,
        ts,
        KIND["satisfaction_survey"],
        satisfaction=c.score(who, 0.0),
        channel=np.where(rng.random(who.size) < digital[who], CONTACT["app"], CONTACT["email"]),
    )
