"""The `retain` command: one entry point, sub-commands contributed by each package."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from common.config import load_config
from common.console import make_console
from common.errors import RetainError
from evaluation.cli import evaluate_app, report_app
from features.cli import data_app, features_app, outcomes_app
from serving.cli import outbox_app, score_command, serve_command
from simulation.cli import synth_command
from training.cli import models_app, promote_command, train_app

app = typer.Typer(
    help="Retain: churn prediction and cross-sell recommendation for retail banks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app.command("synth")(synth_command)
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(train_app, name="train")
app.add_typer(models_app, name="models")
app.add_typer(outbox_app, name="outbox")
app.add_typer(outcomes_app, name="outcomes")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(report_app, name="report")
app.command("promote")(promote_command)
app.command("score")(score_command)
app.command("serve")(serve_command)


@app.callback()
def root(
    ctx: typer.Context,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML configuration (default: $RETAIN_CONFIG, else ./retain.toml "
            "if present, else built-in defaults).",
        ),
    ] = None,
) -> None:
    """Load the configuration once for every sub-command."""
    import os

    # MLflow narrates every model it logs at INFO and draws download bars; our own tables
    # say what happened. Read when mlflow is first imported, so set before any command runs.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import logging

    # uv's environments have no pip: MLflow warns on every model it logs that it cannot
    # read pip's version, for a conda.yaml nobody uses (requirements are pinned by us).
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    ctx.obj = load_config(config_file)


demo_app = typer.Typer(
    help="Run the product on the built-in synthetic bank (`retain demo`), or two campaign "
    "cycles with evaluation and uplift targeting (`retain demo campaign`).",
    invoke_without_command=True,
)
app.add_typer(demo_app, name="demo")


@demo_app.callback()
def demo(
    ctx: typer.Context,
    customers: Annotated[int | None, typer.Option(help="Customers in the synthetic bank.")] = None,
    months: Annotated[int | None, typer.Option(help="Months of history.")] = None,
) -> None:
    """Run the whole product on the built-in synthetic bank and print what it found."""
    if ctx.invoked_subcommand is not None:
        return
    from retain.demo import run_demo

    run_demo(ctx.obj, customers=customers, months=months)


@demo_app.command("campaign")
def demo_campaign(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option(help="Folder for the demo's bank, models, lists and reports.")
    ] = Path("outputs/campaign-demo"),
    customers: Annotated[
        int, typer.Option(help="Customers in the synthetic bank.", min=2_000)
    ] = 20_000,
    months: Annotated[
        int,
        typer.Option(
            help="Months of history for two cycles; each further cycle adds 4.", min=26, max=120
        ),
    ] = 30,
    cycles: Annotated[
        int,
        typer.Option(
            help="Campaign cycles, four months apart: a test-and-learn list, then lists "
            "targeted by uplift models trained on all earlier cycles pooled.",
            min=2,
            max=12,
        ),
    ] = 2,
) -> None:
    """Campaign cycles on the synthetic bank: a test-and-learn list with half held out,
    simulated contacts and outcomes, an uplift model trained on it, then lists targeted by
    uplift (each with a holdout and an exploration slice) whose outcomes train the next
    model, promoted on the logged campaigns' doubly-robust estimate; HTML reports and
    DIR/effect.json with the effect, the customers kept per 1,000 calls against risk
    targeting and the truth, and what the logged cycles estimate without the truth."""
    from retain.campaign_demo import run_campaign_demo

    run_campaign_demo(ctx.obj, out, customers=customers, months=months, cycles=cycles)


def main() -> None:
    """Console entry point: user mistakes print one clear message, not a traceback."""
    console = make_console(stderr=True)
    try:
        app(standalone_mode=False)
    except RetainError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        console.print("aborted")
        sys.exit(1)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


@app.command("config")
def show_config(ctx: typer.Context) -> None:
    """Print the configuration in force (defaults, file and environment merged) as TOML."""
    from common.config_toml import to_toml

    typer.echo(to_toml(ctx.obj))
