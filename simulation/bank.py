"""The synthetic bank: a simulated retail bank that writes the raw tables of the data contract.

`generate_bank` simulates customers month by month and writes one Parquet file per contract
table (`features.schema.TABLES`) plus the manifest, exactly as a bank's extract would arrive.
Beside them, `_truth/` holds what no bank can give: the generator's own probability, month by
month, that each customer closes everything, or leaves by closing or going dormant, within
90 days, or opens each product within 90 days, and every departure as it happened. Models
are judged against labels from the tables; the truth shows how much signal there was to find.

How the bank behaves (docs/synthetic-bank.md gives every setting and its effect on the truth):

* every customer has a latent engagement that drifts around a personal mean, falls after
  complaints (most after slow or unresolved ones) and rises a little after good callbacks;
* each month a customer who has not decided yet decides to leave with a hazard that grows
  with low engagement, recent grievance (weighing more for new customers), short tenure and
  few products, and with the mechanisms of `common.config.SynthMechanisms`: low while a
  fixed-rate period runs and high around its end, higher for rate-sensitive savers while
  the market pays well above the bank, for low incomes after a fee rise, for young digital
  customers once a competitor launches, in January, and by an unobserved frailty;
* a decider closes everything at once, or after a short countdown (1-3 months) showing
  each warning sign only with some probability (salary redirected, money moved to another
  bank, fewer logins and purchases, products closed one by one), or goes silent: moves the
  money out, leaves a few euros and never closes; deaths and the bank's own closures end
  relationships with no warning, and customers who stay now and then dip and recover;
* products are adopted with monthly probabilities set by life stage, income and risk
  appetite as they stand that month; a product riskier than the customer's appetite is
  rarely taken; attributes (segment, income band, risk appetite, channel, do-not-contact,
  region) change over time and are recorded with validity dates;
* the market's and the bank's savings rates are published monthly (`market_rates`); fees,
  bonuses and holiday spending follow the calendar.

The simulation is vectorised over customers and loops only over months; the big tables are
written month by month so memory stays bounded. The parts of the bank live in their own
modules: `population` (the customers and their state at the start), `economy` (rates, fees,
seasons, the competitor), `hazard` (the churn hazard and label noise), `departures`
(deciding, countdowns, dormancy, dips), `dynamics` (adoption, engagement), `attributes`,
`calls` (the response to a retention call), `holdings`, `transactions` and `ledger`
(money), `interactions` (contacts), `truth`, and `tables` and `writer` (the files); `month`
runs one month's steps in the order of their random draws.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.config import SynthMechanisms
from common.names import TRUTH_DIR
from simulation.attributes import AttributeHistory
from simulation.calls import CALL_EFFECT_MONTHS, RESPONSES, calls_by_month
from simulation.catalogue import CATALOGUE, ProductSpec
from simulation.departures import LONGEST_COUNTDOWN, leaving_process
from simulation.economy import draw_economy
from simulation.holdings import open_holding_rows
from simulation.month import Simulation, simulate_month
from simulation.population import draw_population, initial_state
from simulation.state import Bank
from simulation.timeline import Calendar
from simulation.truth import ADOPTION_HORIZON_MONTHS
from simulation.writer import BankWriter, write_manifest

__all__ = [
    "CALL_EFFECT_MONTHS",
    "CATALOGUE",
    "RESPONSES",
    "ProductSpec",
    "SynthMechanisms",
    "SynthSummary",
    "generate_bank",
]

SOURCE = "retain synthetic bank"
# Spare months beyond the extract: countdowns and 90-day horizons reach past its end.
SPARE_MONTHS = LONGEST_COUNTDOWN + ADOPTION_HORIZON_MONTHS + 2


@dataclass(frozen=True)
class SynthSummary:
    """What one run of the synthetic bank produced.

    Attributes:
        row_counts: Rows written per contract table, by table name.
        extracted_at: End of the last simulated month; nothing is timestamped after it.
        annual_churn_rate: Customers who closed all their holdings during the simulation per
            customer-year at risk.
        annual_leave_rate: The same for customers who closed everything or went dormant.
        seconds: Wall-clock seconds the generation took.
    """

    row_counts: Mapping[str, int]
    extracted_at: dt.datetime
    annual_churn_rate: float
    annual_leave_rate: float
    seconds: float


def generate_bank(
    out_dir: Path,
    n_customers: int = 5000,
    months: int = 24,
    seed: int = 42,
    start: dt.date = dt.date(2023, 1, 1),
    transactions_per_month: float = 12.0,
    progress: bool = False,
    calls: Mapping[dt.date, Iterable[str]] | None = None,
    mechanisms: SynthMechanisms | None = None,
) -> SynthSummary:
    """Simulate a retail bank and write its raw tables, manifest and ground truth.

    Args:
        out_dir: Folder to write into (created if missing); existing files are replaced.
        n_customers: Customers in the customers table: those already with the bank at
            `start` plus about 1 % of them arriving every month.
        months: Simulated months; the extract ends with the last one.
        seed: Seed of the random generator; the same arguments give the same tables.
        start: First day of the first simulated month.
        transactions_per_month: Average card and cash spending transactions per customer a
            month; salary, bills, fees and transfers come on top.
        progress: Show a progress bar over the months.
        calls: Retention calls that reached the customer, by campaign day (a month's
            first day): they change the customers' churn hazard and adoption from that
            month on (`simulation.calls.call_response`). The months before the first call
            are the same as without calls, so a campaign scored on the bank without them
            sees the same customers; what happens after shows the calls' effect.
        mechanisms: Which of the mechanisms that make churn hard to predict are on (all,
            by default; `SynthMechanisms.plain()` for none).

    Returns:
        Row counts, extraction time, realised annual churn and leave rates and elapsed
        time. Written: one Parquet file per contract table, `manifest.json`,
        `_truth/churn.parquet` (each customer's 90-day churn and leave probabilities
        without a call, the churn probability if called that month, how they respond to a
        call, and whether they have decided to leave), `_truth/adoption.parquet`,
        `_truth/departures.parquet` (who closed everything or went dormant, when and why)
        and, with calls, `_truth/calls.parquet` (who was called when, and whether a leaver
        was saved).

    Raises:
        ValueError: If an argument is out of range or `start` is not a month's first day.
    """
    began = time.perf_counter()
    _check_arguments(n_customers, months, start, transactions_per_month)
    mechanisms = mechanisms or SynthMechanisms()
    out_dir = Path(out_dir)
    (out_dir / TRUTH_DIR).mkdir(parents=True, exist_ok=True)

    sim = _new_simulation(seed, n_customers, months, start, transactions_per_month, mechanisms)
    bank = sim.bank
    called = calls_by_month(calls or {}, bank.calendar, bank.population.size)

    with BankWriter(out_dir, bank.calendar, bank.population.size) as writer:
        writer.write_products_and_rates(bank.economy)
        rates = _simulate_months(sim, writer, called, progress)
        writer.write_holdings(open_holding_rows(bank.state))
        writer.write_customers(bank.population, bank.state, sim.attributes)
        writer.write_departures(bank.state)
        row_counts = writer.row_counts()

    extracted_us = bank.calendar.extracted_us
    extracted_at = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=extracted_us)
    manifest = {
        "extracted_at": extracted_at.isoformat(),
        "source": SOURCE,
        "seed": seed,
        "n_customers": n_customers,
        "months": months,
    }
    write_manifest(out_dir, manifest)
    churn_rate, leave_rate = rates.annual()
    return SynthSummary(
        row_counts=row_counts,
        extracted_at=extracted_at,
        annual_churn_rate=churn_rate,
        annual_leave_rate=leave_rate,
        seconds=time.perf_counter() - began,
    )


def _new_simulation(
    seed: int,
    n_customers: int,
    months: int,
    start: dt.date,
    transactions_per_month: float,
    mechanisms: SynthMechanisms,
) -> Simulation:
    """The customers, their state at the start and the generators of one run."""
    rng = np.random.Generator(np.random.PCG64(seed))
    calendar = Calendar.starting(start, months, SPARE_MONTHS)
    # Outside events and attribute changes draw from their own generators, so switching
    # them leaves the bank's draws alone; the calls' own keeps the months before a call.
    economy = draw_economy(np.random.Generator(np.random.PCG64([seed, 2])), calendar, mechanisms)
    process = leaving_process(mechanisms)
    population = draw_population(rng, n_customers, calendar, mechanisms)
    state = initial_state(rng, population, calendar, economy, mechanisms, process)
    return Simulation(
        rng=rng,
        call_rng=np.random.Generator(np.random.PCG64([seed, 1])),
        attribute_rng=np.random.Generator(np.random.PCG64([seed, 3])),
        bank=Bank(population, state, calendar, economy, mechanisms),
        process=process,
        attributes=AttributeHistory(),
        transactions_per_month=transactions_per_month,
    )


@dataclass(frozen=True)
class _Rates:
    """Customer-months at risk and closers; customer-months not yet gone and leavers."""

    at_risk: int
    closed: int
    not_gone: int
    left: int

    def annual(self) -> tuple[float, float]:
        """Annual churn rate (closed everything) and leave rate (closed or went dormant)."""
        return 12.0 * self.closed / max(self.at_risk, 1), 12.0 * self.left / max(self.not_gone, 1)


def _check_arguments(
    n_customers: int, months: int, start: dt.date, transactions_per_month: float
) -> None:
    """Raises: ValueError: If an argument of `generate_bank` is out of range."""
    if n_customers < 1 or months < 1:
        raise ValueError(f"need n_customers >= 1 and months >= 1, got {n_customers}, {months}")
    if start.day != 1:
        raise ValueError(f"start must be the first day of a month, got {start}")
    if transactions_per_month < 0:
        raise ValueError(f"transactions_per_month must be >= 0, got {transactions_per_month}")


def _simulate_months(
    sim: Simulation, writer: BankWriter, called: Mapping[int, np.ndarray], progress: bool
) -> _Rates:
    """Simulate every month in turn.

    Returns:
        The counts behind the annual churn and leave rates.
    """
    at_risk = closed = not_gone = left = 0
    with _month_progress(sim.bank.calendar.months, progress) as advance:
        for month in range(sim.bank.calendar.months):
            scene = simulate_month(sim, month, writer, called.get(month))
            at_risk += int(scene.at_risk.sum())
            closed += int(scene.closing.sum())
            # Leaving, dormant customers are gone already: they neither leave nor count.
            not_gone = not_gone + int((scene.at_risk & ~scene.dormant).sum())
            left += int(((scene.closing & ~scene.dormant) | scene.going_dormant).sum())
            advance()
    return _Rates(at_risk, closed, not_gone, left)


@contextmanager
def _month_progress(months: int, show: bool) -> Iterator[Callable[[], None]]:
    """A callable that advances a rich progress bar over the months, or does nothing."""
    if not show:
        yield lambda: None
        return
    from rich.progress import Progress

    with Progress() as bar:
        task = bar.add_task("simulating months", total=months)
        yield lambda: bar.advance(task)
