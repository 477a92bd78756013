"""Readable summaries: data quality of an extract, and what a feature build produced."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from rich.table import Table as RichTable

from features.attributes import AttributeCoverage
from features.definitions import LABEL_CHURN, LABEL_XSELL_PREFIX
from features.schema import TABLES_BY_NAME
from features.validation import BankData


def data_quality_frame(bank: BankData, threshold: float) -> pd.DataFrame:
    """Completeness per declared column, flagged below the threshold (the plans ask ≥ 98 %).

    Columns whose nulls carry meaning (`closed_at` of an open holding) are reported but not
    flagged.
    """
    rows = []
    for report in bank.reports:
        spec = TABLES_BY_NAME[report.table]
        for column in spec.columns:
            share = report.completeness[column.name]
            absent = column.name in report.absent_columns
            rows.append(
                {
                    "table": report.table,
                    "column": column.name,
                    "required": column.required,
                    "completeness": share,
                    "status": "absent"
                    if absent
                    else ("ok" if column.sparse or share >= threshold else "below threshold"),
                    "rows_read": report.rows_read,
                    "rows_quarantined": report.rows_quarantined,
                }
            )
    return pd.DataFrame(rows)


def render_quality_table(frame: pd.DataFrame, threshold: float) -> RichTable:
    table = RichTable(title=f"Data completeness (threshold {threshold:.0%})")
    for name in ("table", "column", "completeness", "status"):
        table.add_column(name, justify="right" if name == "completeness" else "left")
    for row in frame.itertuples():
        style = {"ok": "", "absent": "dim", "below threshold": "red"}[row.status]
        table.add_row(row.table, row.column, f"{row.completeness:.1%}", row.status, style=style)
    return table


def write_data_quality(frame: pd.DataFrame, output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "data_quality.csv"
    frame.to_csv(path, index=False)
    return path


def summary_table(features_file: Path, attributes: AttributeCoverage | None = None) -> RichTable:
    """Per as-of date: customers, tier mix, label rates where labels were built, and with
    `attributes` the share of rows whose customer attributes are as of extraction."""
    columns = pq.read_schema(features_file).names
    wanted = ["as_of", "tier", "salary_stopped", "complaint_open"] + [
        name for name in columns if name == LABEL_CHURN or name.startswith(LABEL_XSELL_PREFIX)
    ]
    frame = pd.read_parquet(features_file, columns=wanted)
    table = RichTable(title=f"Features in {features_file.name}")
    table.add_column("as of")
    table.add_column("customers", justify="right")
    for tier in ("core", "important", "general", "new", "churned"):
        table.add_column(tier, justify="right")
    table.add_column("salary stopped", justify="right")
    table.add_column("open complaint", justify="right")
    has_labels = LABEL_CHURN in frame
    if has_labels:
        table.add_column("churn rate", justify="right")
        table.add_column("any product opened", justify="right")
    if attributes is not None:
        table.add_column("attributes as of extraction", justify="right")
    xsell = [name for name in frame if name.startswith(LABEL_XSELL_PREFIX)]
    for as_of, group in frame.groupby("as_of"):
        tiers = group["tier"].value_counts(normalize=True)
        row = [
            f"{as_of:%Y-%m-%d}",
            f"{len(group):,}",
            *[
                f"{tiers.get(tier, 0):.1%}"
                for tier in ("core", "important", "general", "new", "churned")
            ],
            f"{group['salary_stopped'].mean():.1%}",
            f"{(group['complaint_open'] > 0).mean():.1%}",
        ]
        if has_labels:
            churn = group[LABEL_CHURN]
            opened = group[xsell].max(axis=1)
            row += [
                f"{churn.mean():.1%}" if churn.notna().any() else "not yet observable",
                f"{opened.mean():.1%}" if opened.notna().any() else "not yet observable",
            ]
        if attributes is not None:
            day = as_of.date()
            rows = attributes.rows.get(day, 0)
            row.append(f"{attributes.as_of_extraction.get(day, 0) / rows:.1%}" if rows else "")
        table.add_row(*row)
    return table
