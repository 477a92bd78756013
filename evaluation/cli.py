"""`retain evaluate …`: programme evaluation of a campaign `retain score` wrote.

Heavy imports live inside the commands, so `--help` answers at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from common.console import make_console
from common.names import SCORES_FILE, TASKS_FILE
from features.cli import DataDir, load_extract

console = make_console()
evaluate_app = typer.Typer(
    help="Programme evaluation: did the campaigns' calls happen, and did they keep customers?",
    no_args_is_help=True,
)


@evaluate_app.command("campaign")
def evaluate_campaign_command(
    ctx: typer.Context,
    campaign_dir: Annotated[
        Path,
        typer.Option(
            "--campaign-dir", help=f"Folder `retain score` wrote ({TASKS_FILE}, {SCORES_FILE})."
        ),
    ],
    data: DataDir = None,
    out: Annotated[
        Path | None, typer.Option(help="Where to write the report (default: --campaign-dir).")
    ] = None,
) -> None:
    """Evaluate a campaign on an extract taken after its horizon and the contacts loaded
    with `retain outcomes load`: coverage and SLA, outcomes, churn by tier against the
    plans' targets, the effect (treatment − holdout, with interval and p-value) by tier
    and risk band, calibration on the campaign. Writes report.html, figures.json, CSVs."""
    from evaluation.programme import evaluate_folder

    config = ctx.obj
    _, bank = load_extract(config, data or config.data_dir, quiet=True)
    with console.status("joining lists, contacts and outcomes", spinner="dots"):
        evaluation, _, files = evaluate_folder(bank, config, campaign_dir, out)
    print_headline(evaluation.headline)
    for note in evaluation.notes:
        console.print(f"[yellow]{note}", highlight=False)
    console.print(f"report → {files['report']}")


def print_headline(headline: dict) -> None:
    """The key figures of a campaign evaluation as a table."""
    from evaluation.report_format import headline_rows

    table = RichTable(title=f"Campaign {headline.get('campaign_id')}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in headline_rows(headline):
        table.add_row(label, value)
    console.print(table)


report_app = typer.Typer(
    help="Reports on the plans' standards, beside the campaign evaluations.",
    no_args_is_help=True,
)


@report_app.command("service")
def report_service_command(
    ctx: typer.Context,
    data: DataDir = None,
    campaign_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--campaign-dir",
            help="Campaign folders `retain score` wrote, for callback coverage (repeatable).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the report.")] = Path(
        "outputs/service-report"
    ),
) -> None:
    """The plans' service standards over the 12 months to the extract's day: complaint
    answer, handling and major-resolution times against 24 h / 12 h / 4 h; callback
    coverage and timeliness by tier and channel (with --campaign-dir); contact cadence per
    tier; satisfaction by tier against the targets; tier migrations over the last quarter
    with the rule behind each. A figure the extract cannot give is marked not measurable.
    Writes report.html, one CSV per table and figures.json."""
    from evaluation.service_report import (
        SECTIONS,
        cell_text,
        service_report,
        write_service_report,
    )

    config = ctx.obj
    _, bank = load_extract(config, data or config.data_dir, quiet=True)
    with console.status("measuring the service standards", spinner="dots"):
        report = service_report(bank, config, campaign_dir or [])
        files = write_service_report(report, out)
    for name in ("complaints", "cadence", "satisfaction"):
        frame = report.tables[name]
        table = RichTable(title=SECTIONS[name])
        for column in frame.columns:
            table.add_column(str(column))
        for row in frame.to_dict("records"):
            table.add_row(*(cell_text(column, value, row) for column, value in row.items()))
        console.print(table)
    for note in report.notes:
        console.print(f"[yellow]{note}", highlight=False)
    console.print(f"report → {files['report']}")
