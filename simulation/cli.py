"""`retain data synth`: write the synthetic bank, a data source like a bank's extract.

Heavy imports live inside the command, so `--help` answers at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from common.config import SynthConfig, SynthMechanisms, with_overrides
from common.console import make_console

console = make_console()


def synth_command(
    ctx: typer.Context,
    customers: Annotated[int | None, typer.Option(help="Number of customers.")] = None,
    months: Annotated[int | None, typer.Option(help="Months of history to simulate.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same bank).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: data_dir).")] = None,
    plain: Annotated[
        bool,
        typer.Option(
            "--plain",
            help="Switch every mechanism of docs/synthetic-bank.md off (synth.mechanisms): "
            "the simpler bank, to compare against.",
        ),
    ] = False,
) -> None:
    """Generate the synthetic bank: every contract table plus the generator's truth.

    The mechanisms that make its churn hard to predict are set in synth.mechanisms
    (e.g. RETAIN_SYNTH__MECHANISMS__SILENT_CHURN=false); docs/synthetic-bank.md
    says what each one does to the bank and to its truth.
    """
    config = ctx.obj
    settings = with_overrides(config, "synth", customers=customers, months=months, seed=seed).synth
    if plain:
        settings = settings.model_copy(update={"mechanisms": SynthMechanisms.plain()})
    target = out or config.data_dir
    summary = generate(settings, target)
    table = RichTable(title=f"Synthetic bank in {target}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.row_counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(
        f"extracted at {summary.extracted_at:%Y-%m-%d}, realised annual churn "
        f"{summary.annual_churn_rate:.1%} (closed everything; "
        f"{summary.annual_leave_rate:.1%} with those gone dormant), "
        f"generated in {summary.seconds:.1f} s"
    )


def generate(settings: SynthConfig, target: Path):
    """The synthetic bank described by a `SynthConfig`, with a progress bar."""
    from simulation.bank import generate_bank

    return generate_bank(
        target,
        n_customers=settings.customers,
        months=settings.months,
        seed=settings.seed,
        start=settings.start,
        transactions_per_month=settings.transactions_per_month,
        progress=True,
        mechanisms=settings.mechanisms,
    )
