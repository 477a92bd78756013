"""`retain data …` and `retain features …`: generate, validate and featurise bank extracts.

Heavy imports live inside the commands, so `--help` answers at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from common.config import RetainConfig, with_overrides
from common.console import make_console

console = make_console()
data_app = typer.Typer(
    help="Bank extracts: generate the synthetic bank, import public data, validate an extract.",
    no_args_is_help=True,
)
features_app = typer.Typer(help="Point-in-time features and labels.", no_args_is_help=True)
outcomes_app = typer.Typer(
    help="Campaign contacts and outcomes coming back from the CRM.", no_args_is_help=True
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Folder with one file per contract table (default: config data_dir)."
    ),
]


def _config(ctx: typer.Context) -> RetainConfig:
    return ctx.obj


def load_extract(config: RetainConfig, data: Path | None, quiet: bool = False) -> tuple:
    """Validate an extract (default: config data_dir) with a spinner; print what loaded."""
    from features import engine
    from features.validation import load_bank

    data_dir = data or config.data_dir
    con = engine.connect(config.features)
    quarantine_dir = config.output_dir / "quarantine"
    with console.status(f"validating {data_dir}", spinner="dots"):
        bank = load_bank(con, data_dir, config.data, quarantine_dir)
    if not quiet:
        print_load(bank)
    return con, bank


def print_load(bank) -> None:
    table = RichTable(title="Loaded tables")
    for column in ("table", "source", "rows read", "quarantined", "top reason"):
        table.add_column(
            column, justify="right" if "rows" in column or "quar" in column else "left"
        )
    for report in bank.reports:
        top = next(iter(report.reasons), "")
        table.add_row(
            report.table,
            report.source,
            f"{report.rows_read:,}",
            f"{report.rows_quarantined:,}",
            top,
        )
    console.print(table)
    for name, path in bank.quarantine_files.items():
        console.print(f"[yellow]quarantined rows of {name} → {path}")


@outcomes_app.command("load")
def outcomes_load_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CRM export (CSV or Parquet) of campaign contacts.")],
    data: DataDir = None,
) -> None:
    """Validate a CRM export of campaign contacts (the `campaign_contacts` contract) and
    merge it into the outcomes that `retain evaluate campaign` reads; bad rows are
    quarantined with the reason, a re-sent task replaces its earlier row."""
    from features.outcomes import load_contacts

    config = _config(ctx)
    con, bank = load_extract(config, data, quiet=True)
    loaded = load_contacts(con, file, bank, config.data, config.output_dir)
    report = loaded.report
    table = RichTable(title=f"Campaign contacts from {file.name}")
    for column in ("campaign", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for campaign, rows in loaded.campaigns.items():
        table.add_row(campaign, f"{rows:,}")
    console.print(table)
    console.print(
        f"{report.rows_read:,} rows read, {loaded.rows_kept:,} kept, "
        f"{report.rows_quarantined:,} quarantined; {loaded.rows_total:,} contacts in "
        f"{loaded.outcomes_file}"
    )
    for reason, count in report.reasons.items():
        console.print(
            f"[yellow]{count:,} rows: {reason} (e.g. {report.examples.get(reason)!r})",
            highlight=False,
        )
    if loaded.quarantine_file:
        console.print(f"[yellow]quarantined rows → {loaded.quarantine_file}")


@data_app.command("validate")
def validate_command(ctx: typer.Context, data: DataDir = None) -> None:
    """Check an extract against the data contract; quarantine bad rows; report completeness."""
    from features.report import data_quality_frame, render_quality_table, write_data_quality

    config = _config(ctx)
    _, bank = load_extract(config, data)
    frame = data_quality_frame(bank, config.data.completeness_threshold)
    console.print(render_quality_table(frame, config.data.completeness_threshold))
    path = write_data_quality(frame, config.output_dir)
    console.print(f"data-quality report → {path}")


@data_app.command("import")
def import_command(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="berka (PKDD'99 Czech bank: the folder of .asc files) or santander "
            "(a train_ver2.csv-format file of monthly product flags)."
        ),
    ],
    path: Annotated[Path, typer.Argument(help="The source folder or file.")],
    out: Annotated[Path, typer.Option(help="Folder to write the contract extract into.")],
) -> None:
    """Translate a public bank dataset into an extract of the data contract.

    Rows not imported go to OUT/_quarantine/ with the reason (mapping: docs/data-import.md).
    """
    from common.errors import ConfigError
    from features.importers import IMPORTERS
    from features.importers.extract import check_quarantine_share, write_extract

    importer = IMPORTERS.get(source)
    if importer is None:
        raise ConfigError(f"SOURCE: expected one of {', '.join(IMPORTERS)}, got {source!r}")
    with console.status(f"importing {source} from {path}", spinner="dots"):
        extract = importer.translate(importer.read(path))
        check_quarantine_share(extract, _config(ctx).data.max_quarantine_share)
        write_extract(extract, out)
    _print_import(extract, out)


def _print_import(extract, out: Path) -> None:
    """What was imported: rows and time span per table, then per source file what was not."""
    from features.importers.extract import QUARANTINE_DIR, date_range
    from features.schema import TABLES_BY_NAME

    console.print(extract.source)
    tables = RichTable(title=f"Imported into {out}")
    for column, justify in (("table", "left"), ("rows", "right"), ("from", "left"), ("to", "left")):
        tables.add_column(column, justify=justify)
    for name, frame in extract.tables.items():
        event_time = TABLES_BY_NAME[name].event_time
        span = date_range(frame, event_time) if event_time else None
        first, last = (f"{day:%Y-%m-%d}" for day in span) if span else ("", "")
        tables.add_row(name, f"{len(frame):,}", first, last)
    console.print(tables)
    sources = RichTable(title="Source files")
    for column in ("file", "rows read", "quarantined", "set aside", "main reason"):
        sources.add_column(column, justify="left" if column in ("file", "main reason") else "right")
    for report in extract.reports:
        reasons = {**report.quarantined, **report.set_aside}
        top = max(reasons, key=reasons.get) if reasons else ""
        sources.add_row(
            report.source,
            f"{report.rows_read:,}",
            f"{report.rows_quarantined:,}",
            f"{report.rows_set_aside:,}",
            top,
        )
    console.print(sources)
    console.print(f"extracted at {extract.extracted_at:%Y-%m-%d %H:%M:%S}")
    for note in extract.notes:
        console.print(f"- {note}")
    if extract.rejected:
        console.print(f"rows not imported, with the reason → {out / QUARANTINE_DIR}/")
    console.print(f"next: retain data validate --data {out}")


@features_app.command("build")
def build_command(
    ctx: typer.Context,
    as_of: Annotated[
        list[str],
        typer.Option("--as-of", help="Cut-off date (YYYY-MM-DD); repeat for several snapshots."),
    ],
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
    data: DataDir = None,
    labels: Annotated[
        bool,
        typer.Option(
            "--labels", help="Add churn and cross-sell labels over the configured horizon."
        ),
    ] = False,
    engine_name: Annotated[
        str | None, typer.Option("--engine", help="duckdb or spark (default: config).")
    ] = None,
    spark_master: Annotated[
        str | None, typer.Option(help="Spark master URL, e.g. local[2] or spark://host:7077.")
    ] = None,
) -> None:
    """Build point-in-time features (and labels) for every customer at each as-of date.

    The summary says, per date, the share of rows whose customer attributes are the values
    at extraction (no `customer_attributes` version in force before the date)."""
    from features import pipeline
    from features.report import summary_table
    from features.validation import as_date

    config = _config(ctx)
    config = with_overrides(config, "features", engine=engine_name, spark_master=spark_master)
    dates = [as_date(value) for value in as_of]
    con, bank = load_extract(config, data)
    with console.status(f"building features on {config.features.engine}", spinner="dots"):
        build = pipeline.build_feature_file(bank, dates, config.features, out, labels)
    console.print(
        f"{build.rows:,} rows × {build.columns} columns → {build.path} in {build.seconds:.1f} s"
    )
    console.print(summary_table(build.path, build.attributes))
    coverage = build.attributes
    style = "" if coverage.has_history and not coverage.share_as_of_extraction else "yellow"
    console.print(coverage.describe(), style=style, highlight=False)


@features_app.command("list")
def list_command(ctx: typer.Context) -> None:
    """List the feature columns the definitions produce, in order, with their family,
    window and meaning (the per-product columns follow for each catalogue product)."""
    from features.definitions import FAMILIES, feature_columns

    config = _config(ctx).features
    family_of = {
        column.name: family.name
        for family in FAMILIES
        for column in family.columns(config.windows_days, ())
    }
    table = RichTable(title="Feature columns")
    for column in ("feature", "family", "window", "meaning"):
        table.add_column(column, justify="right" if column == "window" else "left")
    for column in feature_columns(config):
        window = f"{column.window_days} d" if column.window_days else ""
        table.add_row(column.name, family_of[column.name], window, column.meaning)
    console.print(table)
    console.print(
        "then one held__<product_id> per product of the extract's catalogue (cross-sell inputs)"
    )


@features_app.command("doc")
def doc_command(
    write: Annotated[
        Path | None,
        typer.Option(help="Write the Markdown here instead of printing it (docs/features.md)."),
    ] = None,
) -> None:
    """Print (or write) the features page: every feature and label from its declaration."""
    from features.feature_doc import render_features_doc

    text = render_features_doc()
    if write is None:
        console.print(text, markup=False, highlight=False)
    else:
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(text)
        console.print(f"features doc → {write}")


@data_app.command("contract")
def contract_command(
    write: Annotated[
        Path | None,
        typer.Option(
            help="Write the Markdown here instead of printing it (docs/data-contract.md)."
        ),
    ] = None,
) -> None:
    """Print (or write) the bank data contract: tables, columns, types and rules."""
    from features.contract_doc import render_data_contract

    text = render_data_contract()
    if write is None:
        console.print(text, markup=False, highlight=False)
    else:
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(text)
        console.print(f"data contract → {write}")
