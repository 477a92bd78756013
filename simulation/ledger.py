"""One month's transactions in the synthetic bank, gathered as numpy columns, and what the
month's booking steps read (`Booking`).

Rows carry indices into the contract's categories (`features.schema.DIRECTIONS`,
`TRANSACTION_CHANNELS`, `COUNTERPARTY_TYPES`) and `catalogue.CATEGORIES`; the writer turns
them into the contract's strings once a month.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from features.schema import COUNTERPARTY_TYPES, DIRECTIONS, TRANSACTION_CHANNELS
from simulation.catalogue import CATEGORIES
from simulation.economy import Economy
from simulation.state import BankState, Month, Population
from simulation.timeline import Calendar

DEBIT = DIRECTIONS.index("debit")
CREDIT = DIRECTIONS.index("credit")
CHANNEL = {name: TRANSACTION_CHANNELS.index(name) for name in TRANSACTION_CHANNELS}
COUNTERPARTY = {name: COUNTERPARTY_TYPES.index(name) for name in COUNTERPARTY_TYPES}
CATEGORY = {name: CATEGORIES.index(name) for name in CATEGORIES}


class Ledger:
    """One month's transactions, gathered part by part, and the net flow on current accounts.

    Args:
        current_account: Each customer's current account number.
    """

    FIELDS = (
        ("customer", np.int32),
        ("ts", np.int64),
        ("amount", np.float64),
        ("direction", np.int8),
        ("channel", np.int8),
        ("category", np.int8),
        ("counterparty", np.int8),
        ("account", np.int64),
    )

    def __init__(self, current_account: np.ndarray) -> None:
        self.parts: list[list[np.ndarray]] = [[] for _ in self.FIELDS]
        self.current_account = current_account
        # Net money in on each customer's current account this month.
        self.current_flow = np.zeros(current_account.size)

    def add(
        self,
        customer: np.ndarray,
        ts: np.ndarray,
        amount: np.ndarray,
        direction: int,
        channel: np.ndarray | int,
        category: np.ndarray | int,
        counterparty: np.ndarray | int,
        account: np.ndarray,
    ) -> None:
        """Book transactions on the given accounts."""
        values = (customer, ts, money(amount), direction, channel, category, counterparty, account)
        rows = customer.size
        for part, (_, dtype), value in zip(self.parts, self.FIELDS, values, strict=True):
            part.append(np.broadcast_to(np.asarray(value, dtype=dtype), (rows,)))

    def add_on_current(
        self,
        customer: np.ndarray,
        ts: np.ndarray,
        amount: np.ndarray,
        direction: int,
        channel: np.ndarray | int,
        category: np.ndarray | int,
        counterparty: np.ndarray | int,
    ) -> None:
        """Book transactions on the customers' current accounts and count them in the flow."""
        amount = money(amount)
        self.add(
            customer,
            ts,
            amount,
            direction,
            channel,
            category,
            counterparty,
            self.current_account[customer],
        )
        sign = 1.0 if direction == CREDIT else -1.0
        self.current_flow[:] += sign * np.bincount(
            customer, weights=amount, minlength=self.current_flow.size
        )

    def columns(self) -> list[np.ndarray]:
        """The month's transactions, one array per field of `FIELDS`."""
        return [
            np.concatenate(part) if part else np.zeros(0, dtype)
            for part, (_, dtype) in zip(self.parts, self.FIELDS, strict=True)
        ]


def money(amount: np.ndarray) -> np.ndarray:
    """Amounts in cents, at least one cent: the contract wants finite amounts >= 0."""
    return np.round(np.maximum(amount, 0.01), 2)


def spending_channel(rng: np.random.Generator, digital: np.ndarray) -> np.ndarray:
    """Where each purchase is made: digital customers buy online and in the app."""
    u = rng.random(digital.size)
    online = 0.25 * digital
    mobile = online + 0.35 * digital
    atm = mobile + 0.04 + 0.15 * (1 - digital)
    branch = atm + 0.04 * (1 - digital)
    channel = np.full(digital.size, CHANNEL["pos"], dtype=np.int8)
    channel[u < branch] = CHANNEL["branch"]
    channel[u < atm] = CHANNEL["atm"]
    channel[u < mobile] = CHANNEL["mobile"]
    channel[u < online] = CHANNEL["online"]
    return channel


def self_service_channel(rng: np.random.Generator, digital: np.ndarray) -> np.ndarray:
    """Where each transfer is ordered: the app, online banking or a branch desk."""
    u = rng.random(digital.size)
    return np.where(
        u < 0.55 * digital,
        CHANNEL["mobile"],
        np.where(u < 0.9 * digital + 0.05, CHANNEL["online"], CHANNEL["branch"]),
    ).astype(np.int8)


@dataclass(frozen=True)
class Booking:
    """What the month's bookings read and change.

    Attributes:
        rng: The bank's generator.
        population: The customers.
        state: The bank's state; balances change as money moves.
        calendar: The simulation's months.
        month: The month simulated.
        held_at_start: Holdings at the month's start, before this month's closes.
        closed_at: When each holding closed this month (`holdings.Closures.closed_at`).
        transactions_per_month: Average card and cash spending transactions per customer.
        economy: Fees, rates and seasons.
    """

    rng: np.random.Generator
    population: Population
    state: BankState
    calendar: Calendar
    month: Month
    held_at_start: np.ndarray
    closed_at: np.ndarray
    transactions_per_month: float
    economy: Economy

    @cached_property
    def present(self) -> np.ndarray:
        """There for some of the month: the customer's window is not empty."""
        return self.month.window.end_us > self.month.window.start_us

    @cached_property
    def share(self) -> np.ndarray:
        return self.month.window.share

    @cached_property
    def own_share(self) -> np.ndarray:
        """Share of the month in which the customer acts (0 once dormant)."""
        return self.month.own.share
