"""Load a bank extract and hold it to the data contract.

Each table of the extract is found, read and staged by its declaration (`features.staging`:
the row rules run inside the engine, DuckDB or Spark, in a single pass). Problems that make a
whole table unusable stop the run with a `DataError`; rows that break a rule move to
`quarantine/<table>.parquet` with the reason, and the run goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import ibis.expr.types as ir
from ibis.backends import BaseBackend

from common.config import DataConfig
from common.errors import DataError
from features import engine
from features.schema import CUSTOMER_ATTRIBUTES, MANIFEST_FILE, TABLES
from features.staging import (
    PARENT_TABLES,
    TableReport,
    quarantined_rows,
    report_table,
    stage_table,
)


@dataclass(frozen=True)
class BankData:
    """A validated extract: typed tables ready for feature definitions."""

    tables: dict[str, ir.Table]
    extracted_at: datetime
    reports: tuple[TableReport, ...] = ()
    extracted_at_known: bool = True
    quarantine_files: dict[str, Path] = field(default_factory=dict)
    data_dir: Path | None = None  # where the extract was read from


def find_table_file(data_dir: Path, table: str) -> Path | None:
    """The file (or folder of Parquet parts) holding a table, if the extract has one."""
    for candidate in (
        data_dir / f"{table}.parquet",
        data_dir / f"{table}.csv",
        data_dir / f"{table}.csv.gz",
        data_dir / table,
    ):
        if candidate.exists():
            return candidate
    return None


def attribute_source(data_dir: Path) -> str:
    """Where an extract's changeable customer attributes come from, as a training run logs
    it: `point_in_time` (it has `customer_attributes`) or `as_of_extraction` (only the
    `customers` values). The feature build reports the exact share of rows that fell back."""
    has_history = find_table_file(data_dir, CUSTOMER_ATTRIBUTES.name) is not None
    return "point_in_time" if has_history else "as_of_extraction"


def read_extracted_at(data_dir: Path, config: DataConfig) -> datetime:
    """When the extract was taken: its manifest, else the configured date, else now."""
    manifest = data_dir / MANIFEST_FILE
    if manifest.exists():
        try:
            value = datetime.fromisoformat(json.loads(manifest.read_text())["extracted_at"])
            return _naive_utc(value)
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"{manifest}: expected JSON with an ISO 'extracted_at' "
                f'(e.g. "2024-12-31T23:59:59"), got error {exc!r}'
            ) from None
    if config.extracted_at is not None:
        return _naive_utc(config.extracted_at)
    return datetime.now(UTC).replace(tzinfo=None)


def extraction_time_known(data_dir: Path, config: DataConfig) -> bool:
    """Whether the extract says when it was taken (labels need it; features do not)."""
    return (data_dir / MANIFEST_FILE).exists() or config.extracted_at is not None


def _naive_utc(value: datetime) -> datetime:
    """Contract timestamps are naive UTC: convert an offset, do not drop it."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def load_bank(
    con: BaseBackend,
    data_dir: Path,
    config: DataConfig,
    quarantine_dir: Path | None = None,
) -> BankData:
    """Read, type and validate every contract table of an extract.

    Args:
        con: engine to run on.
        data_dir: folder with one file per table (Parquet or CSV) and optionally
            `manifest.json` with the extraction time.
        config: quarantine tolerance and fallback extraction time.
        quarantine_dir: where bad rows go; nothing is written when there are none.

    Returns:
        Typed tables holding only the rows that pass, with a report per table.

    Raises:
        DataError: a required table or column is missing, a column cannot be read at all,
            or more rows are bad than `config.max_quarantine_share` allows.
    """
    if not data_dir.is_dir():
        raise DataError(f"data folder {data_dir} does not exist")
    extracted_at = read_extracted_at(data_dir, config)
    tables: dict[str, ir.Table] = {}
    reports: list[TableReport] = []
    quarantine_files: dict[str, Path] = {}
    for spec in TABLES:
        path = find_table_file(data_dir, spec.name)
        if path is None:
            if spec.required:
                raise DataError(
                    f"table {spec.name}: no {spec.name}.parquet or {spec.name}.csv in {data_dir}"
                )
            continue
        raw = engine.read_file(con, path)
        staged = stage_table(spec, raw, tables, extracted_at)
        report = report_table(spec, path, raw, staged, config)
        if report.rows_quarantined and quarantine_dir is not None:
            quarantine_dir.mkdir(parents=True, exist_ok=True)
            target = quarantine_dir / f"{spec.name}.parquet"
            quarantined_rows(raw, staged.checked()).to_parquet(target)
            quarantine_files[spec.name] = target
        clean = staged.clean(fired=report.reasons)
        # Tables other tables refer to are probed by every foreign-key check: compute them
        # once. The rest stay views over the files: on a clean extract a view is the file
        # itself, and tens of millions of rows stay out of memory.
        if spec.name in PARENT_TABLES:
            clean = engine.materialize(con, clean, f"clean_{spec.name}")
        tables[spec.name] = clean
        reports.append(report)
    return BankData(
        tables=tables,
        extracted_at=extracted_at,
        reports=tuple(reports),
        quarantine_files=quarantine_files,
        extracted_at_known=extraction_time_known(data_dir, config),
        data_dir=data_dir,
    )


def as_date(value: date | datetime | str) -> date:
    """Parse an as-of date given as text or date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DataError(f"as-of date {value!r} is not a date like 2024-06-01") from None
