"""`retain train …`: fit, evaluate and register models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from retain.console import make_console

console = make_console()
train_app = typer.Typer(help="Train, evaluate and register models in MLflow.", no_args_is_help=True)


@train_app.command("churn")
def churn_command(
    ctx: typer.Context,
    data: Annotated[
        Path | None, typer.Option(help="Bank extract folder (default: config data_dir).")
    ] = None,
) -> None:
    """Train the churn model on monthly snapshots, compare with baselines, register it."""
    from features import engine
    from features.validation import load_bank
    from training.churn import REGISTERED_NAME, train_churn

    config = ctx.obj
    data_dir = data or config.data_dir
    with console.status(f"validating {data_dir}", spinner="dots"):
        bank = load_bank(
            engine.connect(config.features), data_dir, config.data, config.output_dir / "quarantine"
        )
    with console.status("building snapshots and training", spinner="dots"):
        result = train_churn(bank, data_dir, config)
    console.print(churn_table(result.metrics, result.rows, result.plan))
    console.print(
        f"MLflow run {result.run_id}; registered {REGISTERED_NAME} version "
        f"{result.version} as {', '.join(result.aliases)}"
    )


def churn_table(metrics: dict[str, float], rows: dict[str, int], plan) -> RichTable:
    """Test-period metrics of the model beside its baselines and the oracle."""
    table = RichTable(
        title=f"Churn, test snapshot {plan.test} ({rows['test']:,} customers; "
        f"trained on {rows['train']:,} rows from {plan.train[0]} to "
        f"{plan.train[-1]}, validated on {plan.valid})"
    )
    table.add_column("metric")
    columns = [
        ("LightGBM", ""),
        ("logistic regression", "baseline_logreg_"),
        ("rule: inactivity", "baseline_rule_"),
        ("oracle (truth)", "oracle_"),
    ]
    for title, _ in columns:
        table.add_column(title, justify="right")
    for key in (
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "ece",
        "lift_at_10pct",
        "capture_at_10pct",
    ):
        table.add_row(
            key,
            *[
                f"{metrics[prefix + key]:.3f}" if prefix + key in metrics else ""
                for _, prefix in columns
            ],
        )
    return table
