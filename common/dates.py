"""Calendar helpers shared by the stages: month starts and cut-off times."""

from __future__ import annotations

from datetime import date, datetime, time


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after (or before, if negative) `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def start_of(day: date) -> datetime:
    """Midnight at the start of `day`: an as-of date means everything stamped before it."""
    return datetime.combine(day, time.min)
