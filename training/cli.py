"""`retain train …`: fit, evaluate and register models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from common.console import make_console
from features.cli import DataDir, load_extract

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
        console.print(backtest_summary_table(per_origin, summary))


def print_churn_result(result) -> None:
    """The churn run as a person reads it: metrics table, drift warning, where it went."""
    from common.names import CHURN_MODEL

    console.print(churn_table(result.metrics, result.rows, result.plan))
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

        from training.xsell import backtest_xsell

        with console.status(f"backtesting {backtest} origins", spinner="dots"):
            per_origin = backtest_xsell(bank, data_dir, config, backtest, (result.strategy,))
        with mlflow.start_run(run_name="xsell backtest"):
            mlflow.set_tag("model_run_id", result.run_id)
            mlflow.log_text(per_origin.to_csv(index=False), "evaluation/backtest.csv")
            mlflow.log_metrics(
                {
                    "backtest_map_at_7_mean": float(per_origin["map_at_7"].mean()),
                    "backtest_map_at_7_std": float(per_origin["map_at_7"].std(ddof=1))
                    if len(per_origin) > 1
                    else 0.0,
                }
            )
        console.print(xsell_backtest_table(per_origin))


def print_xsell_result(result) -> None:
    """The cross-sell run as a person reads it: ranking metrics, per product, registry."""
    from common.names import XSELL_MODEL

    plan, rows = result.plan, result.rows
    console.print(
        binary_table(
            result.metrics,
            f"Cross-sell ({result.strategy.replace('_', ' ')} model), test snapshot "
            f"{plan.test}: {rows['test']:,} customers, "
            f"{int(result.metrics['customers_ranked']):,} of them opened a product; trained on "
            f"{rows['train']:,} customer-snapshots from {plan.train[0]} to {plan.train[-1]}",
            rule_title="rule: popularity",
            keys=(
                "map_at_7",
                "precision_at_3",
                "recall_at_3",
                "pooled_roc_auc",
                "pooled_brier",
                "pooled_ece",
            ),
        )
    )
    table = RichTable(title="Per product (test snapshot, customers not holding it)")
    for column in ("product", "offered", "adopters", "LightGBM AUC", "logistic AUC", "oracle AUC"):
        table.add_column(column, justify="left" if column == "product" else "right")
    for row in result.per_product.to_dict("records"):
        table.add_row(
            row["product_id"],
            f"{row['offered']:,}",
            f"{row['adopters']:,}",
            *[
                f"{row[key]:.3f}" if key in row and row[key] == row[key] else ""
                for key in (
                    "roc_auc LightGBM",
                    "roc_auc logistic regression",
                    "roc_auc oracle (truth)",
                )
            ],
        )
    console.print(table)
    for pid, why in result.skipped.items():
        console.print(f"not modelled: {pid} ({why}); it is never offered")
    console.print(
        f"MLflow run {result.run_id}; registered {XSELL_MODEL} version {result.version} "
        f"as {', '.join(result.aliases)}"
    )


def xsell_backtest_table(per_origin) -> RichTable:
    """MAP@7 per rolling origin beside the baselines."""
    table = RichTable(title="Cross-sell backtest: MAP@7 per origin (test snapshot)")
    headings = {
        "origin": "origin",
        "strategy": "model",
        "buyers": "buyers",
        "map_at_7": "LightGBM",
        "baseline_logreg_map_at_7": "logistic",
        "baseline_rule_map_at_7": "popularity",
        "oracle_map_at_7": "oracle",
    }
    for heading in headings.values():
        table.add_column(heading, justify="right")
    for row in per_origin.to_dict("records"):
        table.add_row(
            *[
                f"{row[key]:.3f}" if isinstance(row[key], float) else str(row[key])
                for key in headings
            ]
        )
    means = per_origin.mean(numeric_only=True)
    table.add_row(
        "mean",
        "",
        "",
        *[f"{means[key]:.3f}" for key in list(headings)[3:]],
        style="bold",
    )
    return table


def churn_table(metrics: dict[str, float], rows: dict[str, int], plan) -> RichTable:
    """Test-period metrics of the churn model beside its baselines and the oracle."""
    return binary_table(
        metrics,
        f"Churn, test snapshot {plan.test} ({rows['test']:,} customers; trained on "
        f"{rows['train']:,} rows from {plan.train[0]} to {plan.train[-1]}, validated on "
        f"{plan.valid})",
        rule_title="rule: inactivity",
    )


def binary_table(
    metrics: dict[str, float],
    title: str,
    rule_title: str,
    keys: tuple[str, ...] = (
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "ece",
        "lift_at_10pct",
        "capture_at_10pct",
    ),
) -> RichTable:
    """A model's test metrics beside its baselines (and the oracle if known)."""
    table = RichTable(title=title)
    table.add_column("metric")
    columns = [
        ("LightGBM", ""),
        ("logistic regression", "baseline_logreg_"),
        (rule_title, "baseline_rule_"),
        ("oracle (truth)", "oracle_"),
    ]
    for heading, _ in columns:
        table.add_column(heading, justify="right")
    for key in keys:
        table.add_row(
            key,
            *[
                f"{metrics[prefix + key]:.3f}" if prefix + key in metrics else ""
                for _, prefix in columns
            ],
        )
    return table


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
    console.print(_versions_table(describe_versions(), "Registered models"))


@models_app.command("show")
def show_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered name, e.g. retain-churn.")],
) -> None:
    """Show the versions of one registered model, champion and challenger marked."""
    from training.registry import describe_versions

    _tracking(ctx)
    console.print(_versions_table(describe_versions(name), name))


def _versions_table(rows: list[dict], title: str) -> RichTable:
    table = RichTable(title=title)
    columns = [
        "name",
        "version",
        "aliases",
        "created",
        "roc_auc",
        "baseline_logreg_roc_auc",
        "baseline_rule_roc_auc",
        "oracle_roc_auc",
        "run_id",
    ]
    for column in columns:
        table.add_column(column.replace("_roc_auc", " AUC"))
    for row in rows:
        table.add_row(
            *[
                f"{row[c]:.4f}"
                if isinstance(row[c], float)
                else f"{row[c]:%Y-%m-%d %H:%M}"
                if c == "created"
                else str(row[c] or "")
                for c in columns
            ]
        )
    return table


def promote_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered name: retain-churn or retain-xsell.")],
    data: Annotated[
        Path | None,
        typer.Option(
            help="Extract whose latest fully labelled snapshot is the holdout (default: data_dir)."
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
    challenger is not worse beyond training.promotion_tolerance. Says why either way."""
    from training import registry
    from training.promotion import promote

    config = ctx.obj
    _tracking(ctx)
    if force:
        decision = registry.forced(name)
        registry.apply(decision, "none (forced)")
        console.print(f"[yellow]promoted[/]: {decision.reason}")
        return
    data_dir = data or config.data_dir
    _, bank = load_extract(config, data_dir, quiet=True)
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
    console.print(
        binary_table(
            result.metrics,
            f"{name}: test, {result.split} "
            f"({result.rows['test']:,} rows; trained on "
            f"{result.rows['train']:,}, validated on "
            f"{result.rows['valid']:,})",
            rule_title=f"rule: {result.rule_feature}",
        )
    )
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
        console.print(backtest_summary_table(per_origin, summary))


def backtest_summary_table(per_origin, summary: dict[str, float]) -> RichTable:
    """Test metrics per rolling origin, then mean ± spread."""
    table = RichTable(title="Backtest: one row per origin (test snapshot)")
    for column in (
        "origin",
        "train rows",
        "test rows",
        "positive rate",
        "LightGBM AUC",
        "logistic AUC",
        "PR AUC",
        "ECE",
    ):
        table.add_column(column, justify="left" if column == "origin" else "right")
    for row in per_origin.itertuples():
        table.add_row(
            row.origin,
            f"{row.train_rows:,}",
            f"{row.test_rows:,}",
            f"{row.test_positive_rate:.1%}",
            f"{row.roc_auc:.3f}",
            f"{row.baseline_logreg_roc_auc:.3f}",
            f"{row.pr_auc:.3f}",
            f"{row.ece:.3f}",
        )
    table.add_row(
        "mean ± sd",
        "",
        "",
        "",
        f"{summary['backtest_roc_auc_mean']:.3f} ± {summary['backtest_roc_auc_std']:.3f}",
        f"{summary['backtest_baseline_logreg_roc_auc_mean']:.3f} ± "
        f"{summary['backtest_baseline_logreg_roc_auc_std']:.3f}",
        f"{summary['backtest_pr_auc_mean']:.3f}",
        "",
        style="bold",
    )
    return table


@train_app.command("uplift")
def uplift_command(
    ctx: typer.Context,
    campaign_dir: Annotated[
        Path,
        typer.Option(
            "--campaign-dir",
            help="Folder `retain score` wrote for a campaign with a holdout "
            "(tasks.parquet, scores.parquet).",
        ),
    ],
    data: DataDir = None,
) -> None:
    """Train the churn uplift model (who does a call keep?) on a campaign's randomised
    groups and the outcomes a later extract shows; validate it against churn-risk ranking
    on a part of the list it never saw; register it as retain-uplift-churn."""
    from training.uplift import train_from_campaign

    config = ctx.obj
    _, bank = load_extract(config, data or config.data_dir, quiet=True)
    with console.status("fitting and validating the uplift model", spinner="dots"):
        result = train_from_campaign(bank, config, campaign_dir)
    table = RichTable(
        title=f"retain-uplift-churn v{result.version} ({', '.join(result.aliases)}): "
        f"{result.rows['validation']:,} held-back customers of the list"
    )
    for column in ("ranking", "Qini", "AUUC", "uplift top 10 %", "top 30 %"):
        table.add_column(column, justify="left" if column == "ranking" else "right")
    for name in ("uplift_model", "churn_risk", "truth"):
        if f"qini_{name}" in result.metrics:
            table.add_row(
                name.replace("_", " "),
                f"{result.metrics[f'qini_{name}']:.4f}",
                f"{result.metrics[f'auuc_{name}']:.4f}",
                f"{result.metrics[f'uplift_at_10_{name}']:+.3f}",
                f"{result.metrics[f'uplift_at_30_{name}']:+.3f}",
            )
    console.print(table)
    console.print(
        f"baseline level {result.model.level:+.3f} log-odds; MLflow run {result.run_id}; "
        "use it with `retain score --targeting uplift`"
    )
