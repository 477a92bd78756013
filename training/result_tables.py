"""What `retain train …` and `retain models …` print: rich tables of a run's results."""

from __future__ import annotations

import pandas as pd
from rich.table import Table as RichTable

from common.names import UPLIFT_MODEL
from training.contenders import (
    FEATURE_ORACLE,
    INACTIVITY,
    LIGHTGBM,
    LOGISTIC,
    ORACLE,
    POPULARITY,
    RULE_PREFIX,
    SALARY_OR_OUTFLOW,
    Contender,
    rule,
)

BINARY_KEYS = (
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
    "calibration_slope",
    "calibration_intercept",
    "lift_at_10pct",
    "capture_at_10pct",
)
CROSS_SELL_KEYS = (
    "map_at_7",
    "precision_at_3",
    "recall_at_3",
    "served_precision_at_1",
    "served_margin_precision_at_1",
    "pooled_roc_auc",
    "pooled_brier",
    "pooled_ece",
    "pooled_calibration_slope",
)


def binary_table(
    metrics: dict[str, float],
    title: str,
    rules: tuple[Contender, ...],
    keys: tuple[str, ...] = BINARY_KEYS,
) -> RichTable:
    """A model's test metrics beside its baselines (and the oracles if known); a metric no
    contender has is left out."""
    table = RichTable(title=title)
    table.add_column("metric", no_wrap=True)
    columns = [LIGHTGBM, LOGISTIC, *rules, FEATURE_ORACLE, ORACLE]
    columns = [c for c in columns if any(c.key(key) in metrics for key in keys)]
    keys = tuple(key for key in keys if any(c.key(key) in metrics for c in columns))
    for contender in columns:
        table.add_column(contender.title, justify="right")
    for key in keys:
        table.add_row(
            key,
            *[
                f"{metrics[contender.key(key)]:.3f}" if contender.key(key) in metrics else ""
                for contender in columns
            ],
        )
    return table


def churn_table(metrics: dict[str, float], rows: dict[str, int], plan) -> RichTable:
    """Test-period metrics of the churn model beside its baselines and the oracle."""
    return binary_table(
        {k: v for k, v in metrics.items() if not k.startswith(FEATURE_ORACLE.prefix)},
        f"Churn, test snapshot {plan.test} ({rows['test']:,} customers; trained on "
        f"{rows['train']:,} rows from {plan.train[0]} to {plan.train[-1]}, validated on "
        f"{plan.valid})",
        rules=(INACTIVITY, SALARY_OR_OUTFLOW),
    )


def churn_truth_table(metrics: dict[str, float]) -> RichTable | None:
    """On a synthetic bank: every contender's ranking on all test customers and on those
    not yet leaving at the as-of date, and as a share of the oracle's (None elsewhere)."""
    oracle = ORACLE.key("roc_auc")
    if oracle not in metrics or ORACLE.key("not_leaving_roc_auc") not in metrics:
        return None
    table = RichTable(
        title=f"Against the truth: all test customers, and the {metrics['not_leaving_share']:.0%} "
        f"not yet leaving at the as-of date (churn rate {metrics['not_leaving_label_rate']:.2%} "
        f"against {metrics['label_rate_test']:.2%})"
    )
    headings = (
        "ranking",
        "ROC AUC",
        "÷ oracle",
        "not leaving: ROC AUC",
        "÷ oracle",
        "not leaving: PR AUC",
    )
    for heading in headings:
        table.add_column(heading, justify="left" if heading == "ranking" else "right")
    contenders = (LIGHTGBM, LOGISTIC, INACTIVITY, SALARY_OR_OUTFLOW, FEATURE_ORACLE, ORACLE)
    not_leaving = ORACLE.key("not_leaving_roc_auc")
    for contender in contenders:
        if contender.key("roc_auc") not in metrics:
            continue
        auc, subgroup = (
            metrics[contender.key("roc_auc")],
            metrics[contender.key("not_leaving_roc_auc")],
        )
        table.add_row(
            contender.title,
            f"{auc:.3f}",
            f"{auc / metrics[oracle]:.2f}",
            f"{subgroup:.3f}",
            f"{subgroup / metrics[not_leaving]:.2f}",
            f"{metrics[contender.key('not_leaving_pr_auc')]:.3f}",
        )
    return table


def churn_truth_lines(metrics: dict[str, float], notes: dict[str, str]) -> list[str]:
    """What the truth says of a churn run beyond the table, in sentences."""
    lines = []
    if "headroom_share" in metrics:
        share = metrics["headroom_share"]
        lines.append(
            "headroom share, (LightGBM − logistic) ÷ (oracle − logistic) on ROC AUC: "
            + (f"{share:.2f}" if share == share else f"none: {notes.get('headroom_share', '')}")
        )
    if "feature_oracle" in notes:
        lines.append(
            "feature-limited oracle (the ceiling given Retain's features): "
            + notes["feature_oracle"]
        )
    if "truth" in notes:
        lines.append(notes["truth"])
    return lines


def table_mode_table(result, name: str) -> RichTable:
    """Test metrics of a table-mode model, with how the table was split."""
    rows = result.rows
    return binary_table(
        result.metrics,
        f"{name}: test, {result.split} ({rows['test']:,} rows; trained on "
        f"{rows['train']:,}, validated on {rows['valid']:,})",
        rules=(rule(result.rule_feature),),
    )


def cross_sell_table(result) -> RichTable:
    """Ranking and pooled metrics of the cross-sell model beside its baselines."""
    plan, rows = result.plan, result.rows
    return binary_table(
        result.metrics,
        f"Cross-sell ({result.strategy.replace('_', ' ')} model), test snapshot "
        f"{plan.test}: {rows['test']:,} customers, "
        f"{int(result.metrics['customers_ranked']):,} of them opened a product; trained on "
        f"{rows['train']:,} customer-snapshots from {plan.train[0]} to {plan.train[-1]}",
        rules=(POPULARITY,),
        keys=CROSS_SELL_KEYS,
    )


def per_product_table(per_product: pd.DataFrame) -> RichTable:
    """ROC AUC per product of the model, the logistic baseline and the oracle."""
    table = RichTable(title="Per product (test snapshot, customers not holding it)")
    for column in ("product", "offered", "adopters", "LightGBM AUC", "logistic AUC", "oracle AUC"):
        table.add_column(column, justify="left" if column == "product" else "right")
    keys = [f"roc_auc {contender.title}" for contender in (LIGHTGBM, LOGISTIC, ORACLE)]
    for row in per_product.to_dict("records"):
        table.add_row(
            row["product_id"],
            f"{row['offered']:,}",
            f"{row['adopters']:,}",
            *[f"{row[key]:.3f}" if key in row and row[key] == row[key] else "" for key in keys],
        )
    return table


def xsell_backtest_table(per_origin: pd.DataFrame) -> RichTable:
    """MAP@7 per rolling origin beside the baselines."""
    table = RichTable(title="Cross-sell backtest: MAP@7 per origin (test snapshot)")
    headings = {
        "origin": "origin",
        "strategy": "model",
        "buyers": "buyers",
        "map_at_7": LIGHTGBM.title,
        LOGISTIC.key("map_at_7"): "logistic",
        POPULARITY.key("map_at_7"): "popularity",
        ORACLE.key("map_at_7"): "oracle",
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


def backtest_summary_table(per_origin: pd.DataFrame, summary: dict[str, float]) -> RichTable:
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
    for row in per_origin.to_dict("records"):
        table.add_row(
            row["origin"],
            f"{row['train_rows']:,}",
            f"{row['test_rows']:,}",
            f"{row['test_positive_rate']:.1%}",
            f"{row['roc_auc']:.3f}",
            f"{row[LOGISTIC.key('roc_auc')]:.3f}",
            f"{row['pr_auc']:.3f}",
            f"{row['ece']:.3f}",
        )
    logistic = f"backtest_{LOGISTIC.key('roc_auc')}"
    table.add_row(
        "mean ± sd",
        "",
        "",
        "",
        f"{summary['backtest_roc_auc_mean']:.3f} ± {summary['backtest_roc_auc_std']:.3f}",
        f"{summary[f'{logistic}_mean']:.3f} ± {summary[f'{logistic}_std']:.3f}",
        f"{summary['backtest_pr_auc_mean']:.3f}",
        "",
        style="bold",
    )
    return table


def versions_table(rows: list[dict], title: str) -> RichTable:
    """Registered versions with their aliases and the ROC AUCs their run logged."""
    table = RichTable(title=title)
    columns = [
        "name",
        "version",
        "aliases",
        "created",
        "roc_auc",
        LOGISTIC.key("roc_auc"),
        f"{RULE_PREFIX}roc_auc",
        ORACLE.key("roc_auc"),
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


def uplift_table(result) -> RichTable:
    """Qini, AUUC and uplift in the top shares of the uplift model, churn risk, truth."""
    table = RichTable(
        title=f"{UPLIFT_MODEL} v{result.version} ({', '.join(result.aliases)}): "
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
    return table
