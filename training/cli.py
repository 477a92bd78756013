"""`retain train …`: fit, evaluate and register models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from common.console import make_console
from common.errors import RetainError
from features.cli import DataDir, load_extract
from training import result_tables

console = make_console()
train_app = typer.Typer(help="Train, evaluate and register models in MLflow.", no_args_is_help=True)


@train_app.command("churn")
def churn_command(
    ctx: typer.Context,
    data: DataDir = None,
    backtest: Annotated[
        int,
        typer.Option(
            help="Also evaluate K rolling monthly origins and report the spread (0 = off).",
            min=0,
            max=24,
        ),
    ] = 0,
) -> None:
    """Train the churn model on monthly snapshots, compare with baselines, register it."""
    from training.churn import train_churn

    config = ctx.obj
    data_dir = data or config.data_dir
    _, bank = load_extract(config, data_dir, quiet=True)
    with console.status("building snapshots and training", spinner="dots"):
        result = train_churn(bank, data_dir, config)
    print_churn_result(result)
    if backtest:
        import mlflow

        from training.backtest import log_backtest
        from training.churn import backtest_churn

        with console.status(f"backtesting {backtest} origins", spinner="dots"):
            per_origin = backtest_churn(bank, config, backtest)
        with mlflow.start_run(run_name="churn backtest"):
            mlflow.set_tag("model_run_id", result.run_id)
            summary = log_backtest(per_origin)
        console.print(result_tables.backtest_summary_table(per_origin, summary))


def print_churn_result(result) -> None:
    """The churn run as a person reads it: metrics table, drift warning, where it went."""
    from common.names import CHURN_MODEL

    console.print(result_tables.churn_table(result.metrics, result.rows, result.plan))
    truth = result_tables.churn_truth_table(result.metrics)
    if truth is not None:
        console.print(truth)
    for line in result_tables.churn_truth_lines(result.metrics, result.notes):
        console.print(line)
    if "calibration" in result.notes:
        console.print(f"calibration: {result.notes['calibration']}")
    if result.drift_warning:
        console.print(f"[yellow]warning:[/] {result.drift_warning}")
    console.print(
        f"MLflow run {result.run_id}; registered {CHURN_MODEL} version {result.version} "
        f"as {', '.join(result.aliases)}; browse with `make mlflow-ui`"
    )
    if result.seconds:
        console.print(
            "time: " + ", ".join(f"{name} {sec:.1f} s" for name, sec in result.seconds.items())
        )


@train_app.command("xsell")
def xsell_command(
    ctx: typer.Context,
    data: DataDir = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="single (one model, product as a feature) or per_product "
            "(default: training.xsell_model)."
        ),
    ] = None,
    backtest: Annotated[
        int,
        typer.Option(
            help="Also evaluate K rolling monthly origins and report MAP@7 per origin (0 = off).",
            min=0,
            max=24,
        ),
    ] = 0,
) -> None:
    """Train the cross-sell model (propensity per product not held), rank products per
    customer, compare with logistic and popularity baselines, register retain-xsell."""
    from common.errors import ConfigError
    from training.xsell import train_xsell

    if strategy not in (None, "single", "per_product"):
        raise ConfigError(f"--strategy: expected single or per_product, got {strategy!r}")
    config = ctx.obj
    data_dir = data or config.data_dir
    _, bank = load_extract(config, data_dir, quiet=True)
    with console.status("building snapshots and training", spinner="dots"):
        result = train_xsell(bank, data_dir, config, strategy)
    print_xsell_result(result)
    if backtest:
        import mlflow

        from training.backtest import log_xsell_backtest
        from training.xsell import backtest_xsell

        with console.status(f"backtesting {backtest} origins", spinner="dots"):
            per_origin = backtest_xsell(bank, data_dir, config, backtest, (result.strategy,))
        with mlflow.start_run(run_name="xsell backtest"):
            mlflow.set_tag("model_run_id", result.run_id)
            log_xsell_backtest(per_origin)
        console.print(result_tables.xsell_backtest_table(per_origin))


def print_xsell_result(result) -> None:
    """The cross-sell run as a person reads it: ranking metrics, per product, registry."""
    from common.names import XSELL_MODEL

    console.print(result_tables.cross_sell_table(result))
    console.print(result_tables.per_product_table(result.per_product))
    for pid, why in result.skipped.items():
        console.print(f"not modelled: {pid} ({why}); it is never offered")
    console.print(
        f"MLflow run {result.run_id}; registered {XSELL_MODEL} version {result.version} "
        f"as {', '.join(result.aliases)}"
    )


models_app = typer.Typer(help="Registered models: list, show.", no_args_is_help=True)


def _tracking(ctx: typer.Context) -> None:
    from training.tracking import use_tracking

    config = ctx.obj
    use_tracking(config.training.tracking_uri, config.training.experiment)


@models_app.command("list")
def list_command(ctx: typer.Context) -> None:
    """List every registered model version with its aliases and test metrics."""
    from training.registry import describe_versions

    _tracking(ctx)
    console.print(result_tables.versions_table(describe_versions(), "Registered models"))


@models_app.command("show")
def show_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered name, e.g. retain-churn.")],
) -> None:
    """Show the versions of one registered model, champion and challenger marked."""
    from training.registry import describe_versions

    _tracking(ctx)
    console.print(result_tables.versions_table(describe_versions(name), name))


def promote_command(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(help="Registered name: retain-churn, retain-xsell or retain-uplift-churn."),
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            help="Extract whose latest fully labelled snapshot is the holdout, or (uplift) "
            "that shows the campaigns' outcomes (default: data_dir)."
        ),
    ] = None,
    campaign_dir: Annotated[
        list[Path] | None,
        typer.Option(
            help="retain-uplift-churn: a campaign folder `retain score` wrote, whose horizon "
            "the extract covers; repeat for several. The models are valued on them."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Make the challenger champion without comparing (recorded as forced)."
        ),
    ] = False,
) -> None:
    """Compare challenger with champion on the same out-of-time holdout; promote if the
    challenger is not worse beyond training.promotion_tolerance. The uplift model is valued
    instead by the doubly-robust estimate of the customers its calls would have kept on the
    logged campaigns (--campaign-dir), against training.uplift_promotion_tolerance. Says why
    either way."""
    from common.names import UPLIFT_MODEL
    from training import registry
    from training.promotion import promote

    config = ctx.obj
    _tracking(ctx)
    if force:
        decision = registry.forced(name)
        registry.apply(decision, "none (forced)")
        console.print(f"[yellow]promoted[/]: {decision.reason}")
        return
    if (name == UPLIFT_MODEL) != bool(campaign_dir):
        raise RetainError(
            f"--campaign-dir: {UPLIFT_MODEL} is valued on logged campaigns; give the "
            "folders `retain score` wrote"
            if name == UPLIFT_MODEL
            else f"--campaign-dir values {UPLIFT_MODEL} only; {name} is compared on the "
            "extract's latest labelled snapshot"
        )
    data_dir = data or config.data_dir
    _, bank = load_extract(config, data_dir, quiet=True)
    if name == UPLIFT_MODEL:
        from training.uplift_promotion import promote_uplift

        with console.status("valuing champion and challenger on the logged campaigns"):
            decision = promote_uplift(bank, config, campaign_dir)
    else:
        decision = promote(name, bank, config, str(data_dir))
    colour = "green" if decision.promoted else "yellow"
    verdict = "promoted" if decision.promoted else "kept the champion"
    console.print(f"[{colour}]{verdict}[/]: {decision.reason}")


@train_app.command("table")
def table_command(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="CSV (';' or ',') or Parquet, one row per customer.")
    ],
    target: Annotated[str, typer.Option(help="Column holding the outcome.")],
    positive: Annotated[
        str, typer.Option(help="Value of the target that counts as positive, e.g. 1 or yes.")
    ],
    name: Annotated[str, typer.Option(help="Registered model name.")],
    id_column: Annotated[
        str | None, typer.Option("--id", help="Customer id column (never a feature).")
    ] = None,
    order_by: Annotated[
        str | None, typer.Option(help="Time column: test on the last 20 % (out of time).")
    ] = None,
    file_order: Annotated[
        bool,
        typer.Option("--file-order", help="Rows are already in time order: test on the last 20 %."),
    ] = False,
    drop: Annotated[
        list[str] | None,
        typer.Option(help="Column to leave out (repeat), e.g. one only known after the outcome."),
    ] = None,
    backtest: Annotated[
        int,
        typer.Option(
            help="With --order-by/--file-order: also evaluate K rolling origins (0 = off).",
            min=0,
            max=12,
        ),
    ] = 0,
) -> None:
    """Train on a ready-made snapshot table: out-of-time split with --order-by or
    --file-order, else stratified 80/20; baselines, drift check, MLflow registry."""
    from common.errors import RetainError
    from training.table import TableTask, backtest_table, train_table

    if order_by and file_order:
        raise RetainError("give --order-by COL or --file-order, not both")
    if backtest and not (order_by or file_order):
        raise RetainError("--backtest needs a time order: give --order-by COL or --file-order")
    task = TableTask(
        file, target, positive, name, id_column, order_by, file_order, tuple(drop or ())
    )
    with console.status(f"training {name} on {file.name}", spinner="dots"):
        result = train_table(task, ctx.obj)
    for column, why in result.dropped.items():
        if why != "target":
            console.print(f"left out {column}: {why}")
    console.print(result_tables.table_mode_table(result, name))
    if result.drift_warning:
        console.print(f"[yellow]warning:[/] {result.drift_warning}")
    console.print(
        f"MLflow run {result.run_id}; registered {name} version {result.version} "
        f"as {', '.join(result.aliases)}"
    )
    if backtest:
        import mlflow

        from training.backtest import log_backtest

        with console.status(f"backtesting {backtest} origins", spinner="dots"):
            per_origin = backtest_table(task, ctx.obj, backtest)
        with mlflow.start_run(run_name=f"table {name} backtest"):
            mlflow.set_tag("model_run_id", result.run_id)
            summary = log_backtest(per_origin)
        console.print(result_tables.backtest_summary_table(per_origin, summary))


@train_app.command("uplift")
def uplift_command(
    ctx: typer.Context,
    campaign_dir: Annotated[
        list[Path],
        typer.Option(
            "--campaign-dir",
            help="Folder `retain score` wrote for a campaign with a holdout "
            "(tasks.parquet, scores.parquet); repeat it to pool several campaigns.",
        ),
    ],
    data: DataDir = None,
) -> None:
    """Train the churn uplift model (who does a call keep?) on the randomised groups of one
    campaign or several pooled and the outcomes a later extract shows; validate it against
    churn-risk ranking on a part of the lists it never saw; register it as
    retain-uplift-churn."""
    from training.uplift import distinct_folders, train_from_campaign

    config = ctx.obj
    distinct_folders(campaign_dir)  # a folder given twice is refused before the extract loads
    _, bank = load_extract(config, data or config.data_dir, quiet=True)
    with console.status("fitting and validating the uplift model", spinner="dots"):
        result = train_from_campaign(bank, config, campaign_dir)
    console.print(result_tables.uplift_table(result))
    console.print(
        f"fitted on {len(result.campaigns)} campaign(s) pooled: {', '.join(result.campaigns)}"
    )
    console.print(
        f"baseline level {result.model.level:+.3f} log-odds; MLflow run {result.run_id}; "
        "use it with `retain score --targeting uplift`"
    )
