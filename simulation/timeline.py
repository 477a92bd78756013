"""Time in the synthetic bank: the months of the simulation, and each customer's slice of one.

Times are int64 microseconds since the epoch, cut to whole seconds as banks' booking clocks
keep them; days are int32 days since the epoch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

SECOND_US = 1_000_000
HOUR_US = 3_600 * SECOND_US
DAY_US = 24 * HOUR_US
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
NEVER = np.iinfo(np.int64).max  # "not closed" in a closing-time matrix
NULL_TS = np.iinfo(np.int64).min  # a missing time, such as a complaint never resolved


@dataclass(frozen=True)
class Calendar:
    """Month boundaries of the simulation, with spare months after it for countdowns."""

    month_start_us: np.ndarray  # int64 microseconds since the epoch, months + spare + 1
    month_start_day: np.ndarray  # int32 days since the epoch
    months: int

    @classmethod
    def starting(cls, start: dt.date, months: int, spare_months: int) -> Calendar:
        """The calendar of `months` simulated months from `start`, plus `spare_months`."""
        first = np.datetime64(start, "M")
        starts = (first + np.arange(months + spare_months + 1)).astype("datetime64[D]")
        days = starts.astype(np.int64)
        return cls(
            month_start_us=days * DAY_US, month_start_day=days.astype(np.int32), months=months
        )

    @property
    def extracted_us(self) -> int:
        return int(self.month_start_us[self.months]) - SECOND_US

    def month_length_us(self, month: np.ndarray | int) -> np.ndarray:
        return self.month_start_us[np.asarray(month) + 1] - self.month_start_us[month]

    def close_time_us(self, month: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """Uniform times in the given months, never in a month's last second.

        The last second is left out so the final month's events stay at or before
        extracted_at, one second before the next month starts.
        """
        span = self.month_length_us(month) - SECOND_US
        return self.month_start_us[month] + whole_seconds(uniform * span)


@dataclass(frozen=True)
class Window:
    """Each customer's slice of the month in which things can happen to them.

    It opens when the month starts, or when an arriving customer joins, and closes when the
    month ends, or when a leaving customer's last holding closes. It is empty for customers
    not there this month.
    """

    start_us: np.ndarray
    end_us: np.ndarray
    month_start_us: int
    month_end_us: int

    @property
    def share(self) -> np.ndarray:
        """Share of the month each customer is there for, which scales event rates."""
        return (self.end_us - self.start_us) / (self.month_end_us - self.month_start_us)

    def uniform_times(self, rng: np.random.Generator, owners: np.ndarray) -> np.ndarray:
        """A uniform time in each owner's window, one per row of `owners`."""
        start = self.start_us[owners]
        span = self.end_us[owners] - start
        offset = whole_seconds(rng.random(owners.size) * span)
        return start + np.minimum(offset, np.maximum(span - 1, 0))

    def contains(self, owners: np.ndarray, ts: np.ndarray) -> np.ndarray:
        return (ts >= self.start_us[owners]) & (ts < self.end_us[owners])


def whole_seconds(duration_us: np.ndarray) -> np.ndarray:
    """Durations in microseconds cut to whole seconds, as banks' booking clocks keep them."""
    return (np.asarray(duration_us) // SECOND_US).astype(np.int64) * SECOND_US


def event_owners(counts: np.ndarray) -> np.ndarray:
    """Customer index repeated by each customer's event count: one row per event."""
    return np.repeat(np.arange(counts.size, dtype=np.int32), counts)
