"""The synthetic bank: a simulated retail bank that writes the raw tables of the data contract.

`generate_bank` simulates customers month by month and writes one Parquet file per contract
table (`features.schema.TABLES`) plus the manifest, exactly as a bank's extract would arrive.
Beside them, `_truth/` holds what no bank can give: the generator's own probability, month by
month, that each customer leaves within 90 days or opens each product within 90 days. Models
are judged against labels from the tables; the truth shows how much signal there was to find.

How the bank behaves (so that there is something real to learn):

* every customer has a latent engagement that drifts around a personal mean, falls after
  complaints (most after slow or unresolved ones) and rises a little after good callbacks;
* each month a customer who is not leaving yet decides to leave with a hazard that grows
  with low engagement, recent complaint grievance, short tenure and few products; three in
  four leavers first spend a 2-4 month countdown showing warning signs (salary redirected,
  money moved to another bank, fewer logins and purchases, products closed one by one);
  the rest close everything in the month they decide;
* products are adopted with monthly probabilities set by life stage, income and risk
  appetite; a product riskier than the customer's appetite is rarely taken.

The simulation is vectorised over customers and loops only over months; the big tables are
written month by month so memory stays bounded. The parts of the bank live in their own
modules: `population` (the customers and their state at the start), `dynamics` (hazards,
countdowns, adoption, engagement), `calls` (the response to a retention call), `holdings`,
`transactions` and `ledger` (money), `interactions` (contacts), `truth`, and `tables` and
`writer` (the files); `month` runs one month's steps in the order of their random draws.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.names import TRUTH_DIR
from simulation.calls import CALL_EFFECT_MONTHS, RESPONSES, calls_by_month
from simulation.catalogue import CATALOGUE, ProductSpec
from simulation.dynamics import COUNTDOWN_MONTHS
from simulation.holdings import open_holding_rows
from simulation.month import Simulation, simulate_month
from simulation.population import draw_population, initial_state
from simulation.timeline import Calendar
from simulation.truth import ADOPTION_HORIZON_MONTHS
from simulation.writer import BankWriter, write_manifest

__all__ = [
    "CALL_EFFECT_MONTHS",
    "CATALOGUE",
    "RESPONSES",
    "ProductSpec",
    "SynthSummary",
    "generate_bank",
]

SOURCE = "retain synthetic bank"
# Spare months beyond the extract: countdowns and 90-day horizons reach past its end.
SPARE_MONTHS = int(COUNTDOWN_MONTHS.max()) + ADOPTION_HORIZON_MONTHS + 2


@dataclass(frozen=True)
class SynthSummary:
    """What one run of the synthetic bank produced.

    Attributes:
        row_counts: Rows written per contract table, by table name.
        extracted_at: End of the last simulated month; nothing is timestamped after it.
        annual_churn_rate: Customers who closed all their holdings during the simulation per
            customer-year at risk.
        seconds: Wall-clock seconds the generation took.
    """

    row_counts: Mapping[str, int]
    extracted_at: dt.datetime
    annual_churn_rate: float
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

    Returns:
        Row counts, extraction time, realised annual churn rate and elapsed time. Written:
        one Parquet file per contract table, `manifest.json`, `_truth/churn.parquet` (with
        each customer's 90-day churn probability without a call and if called that month,
        and how they respond to a call), `_truth/adoption.parquet` and, with calls,
        `_truth/calls.parquet` (who was called when, and whether a leaver was saved).

    Raises:
        ValueError: If an argument is out of range or `start` is not a month's first day.
    """
    began = time.perf_counter()
    _check_arguments(n_customers, months, start, transactions_per_month)
    out_dir = Path(out_dir)
    (out_dir / TRUTH_DIR).mkdir(parents=True, exist_ok=True)

    rng = np.random.Generator(np.random.PCG64(seed))
    calendar = Calendar.starting(start, months, SPARE_MONTHS)
    population = draw_population(rng, n_customers, calendar)
    state = initial_state(rng, population, calendar)
    called = calls_by_month(calls or {}, calendar, population.size)
    # Its own generator: the bank's draws stay those of a run without calls until a call.
    call_rng = np.random.Generator(np.random.PCG64([seed, 1]))
    sim = Simulation(rng, call_rng, population, state, calendar, transactions_per_month)

    with BankWriter(out_dir, calendar, population.size) as writer:
        writer.write_customers_and_products(population)
        customer_months, churners = _simulate_months(sim, writer, called, progress)
        writer.write_holdings(open_holding_rows(state))
        row_counts = writer.row_counts()

    extracted_at = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=calendar.extracted_us)
    manifest = {
        "extracted_at": extracted_at.isoformat(),
        "source": SOURCE,
        "seed": seed,
        "n_customers": n_customers,
        "months": months,
    }
    write_manifest(out_dir, manifest)
    return SynthSummary(
        row_counts=row_counts,
        extracted_at=extracted_at,
        annual_churn_rate=12.0 * churners / max(customer_months, 1),
        seconds=time.perf_counter() - began,
    )


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
) -> tuple[int, int]:
    """Simulate every month in turn.

    Returns:
        Customer-months at risk, and customers who closed everything.
    """
    customer_months = 0
    churners = 0
    with _month_progress(sim.calendar.months, progress) as advance:
        for month in range(sim.calendar.months):
            at_risk, closed = simulate_month(sim, month, writer, called.get(month))
            customer_months += at_risk
            churners += closed
            advance()
    return customer_months, churners


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
