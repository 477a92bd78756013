"""What an importer produces, how its rows are triaged, and how it is written to disk.

An importer translates a public dataset into the bank data contract (`features.schema`):
contract tables as frames, the extraction time, and for every source file what was read,
what was quarantined (a bad row, with the reason) and what was set aside (a sound row outside
the extract, e.g. an account opened after the extraction time). Nothing is dropped without a
row in `_quarantine/<source file>.parquet` saying why. The written folder is an extract like
any bank's: `retain data validate` holds it to the same contract.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from common.errors import DataError
from features.schema import ARROW_TYPES, MANIFEST_FILE, TABLES, TABLES_BY_NAME
from features.staging import REASON
from features.validation import find_table_file

QUARANTINE_DIR = "_quarantine"


@dataclass(frozen=True)
class Check:
    """One row rule of a source file: rows where `bad` holds break it.

    `column` names the source column whose value is shown as the example in reports.
    """

    bad: pd.Series
    reason: str
    column: str | None = None


@dataclass(frozen=True)
class SourceReport:
    """What importing one source file found.

    Attributes:
        source: the file name.
        rows_read: data rows in the file.
        quarantined: bad rows per reason (count towards `data.max_quarantine_share`).
        set_aside: sound rows outside the extract per reason (not errors, not imported).
        examples: an offending value per quarantine reason.
    """

    source: str
    rows_read: int
    quarantined: dict[str, int] = field(default_factory=dict)
    set_aside: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantined.values())

    @property
    def rows_set_aside(self) -> int:
        return sum(self.set_aside.values())


@dataclass(frozen=True)
class ImportedExtract:
    """A public dataset translated into contract tables.

    Attributes:
        source: what the data is, for the manifest.
        tables: contract table name → frame with the contract's columns (and possibly
            extra source columns, which loading ignores).
        extracted_at: nothing in the tables is stamped later.
        reports: one per source file.
        rejected: source file → its quarantined and set-aside rows as read, with `_reason`.
        notes: what a user must know about the translation (what is approximate or lost).
    """

    source: str
    tables: dict[str, pd.DataFrame]
    extracted_at: datetime
    reports: tuple[SourceReport, ...]
    rejected: dict[str, pd.DataFrame]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Product:
    """A product of an importer's catalogue. Family, risk and minimum age are the importer's
    reading of the source (public datasets have none of them)."""

    product_id: str
    name: str
    family: str
    risk_level: int = 1
    min_age: int | None = None


def products_frame(catalogue: Sequence[Product]) -> pd.DataFrame:
    """A catalogue as a contract `products` table."""
    return pd.DataFrame(
        {
            "product_id": [p.product_id for p in catalogue],
            "family": [p.family for p in catalogue],
            "risk_level": [p.risk_level for p in catalogue],
            "name": [p.name for p in catalogue],
            "min_age": pd.array([p.min_age for p in catalogue], dtype="Int64"),
        }
    )


class Triage:
    """Collects, per source file, which rows are kept and why the others are not."""

    def __init__(self) -> None:
        self._reports: dict[str, SourceReport] = {}
        self._rejected: dict[str, list[pd.DataFrame]] = {}

    def quarantine(self, source: str, raw: pd.DataFrame, checks: Sequence[Check]) -> pd.Series:
        """Apply the checks in priority order; move failing rows to quarantine.

        Returns:
            A boolean mask over `raw`: True for rows that pass every check.
        """
        reason = first_reason(raw.index, checks)
        examples = {}
        for check in checks:
            hit = reason == check.reason
            if check.column is not None and hit.any() and check.reason not in examples:
                examples[check.reason] = str(raw.loc[hit, check.column].iloc[0])
        self._record(source, raw, reason, examples, quarantined=True)
        return reason.isna()

    def set_aside(self, source: str, raw: pd.DataFrame, outside: pd.Series, reason: str) -> None:
        """Record sound rows the extract cannot hold (e.g. opened after its end)."""
        reasons = pd.Series(None, index=raw.index, dtype="object").mask(outside, reason)
        self._record(source, raw, reasons, {}, quarantined=False)

    def start(self, source: str, rows_read: int) -> None:
        """Register a source file (so it is reported even when nothing goes wrong)."""
        self._reports.setdefault(source, SourceReport(source, rows_read))

    def _record(self, source, raw, reason: pd.Series, examples, quarantined: bool) -> None:
        self.start(source, len(raw))
        counts = {str(k): int(v) for k, v in reason.dropna().value_counts().items()}
        if not counts:
            return
        report = self._reports[source]
        target = dict(report.quarantined if quarantined else report.set_aside)
        for key, count in counts.items():
            target[key] = target.get(key, 0) + count
        self._reports[source] = SourceReport(
            source,
            report.rows_read,
            target if quarantined else report.quarantined,
            report.set_aside if quarantined else target,
            {**examples, **report.examples},
        )
        rows = raw[reason.notna()].astype("string").assign(**{REASON: reason.dropna()})
        self._rejected.setdefault(source, []).append(rows)

    @property
    def reports(self) -> tuple[SourceReport, ...]:
        return tuple(self._reports.values())

    @property
    def rejected(self) -> dict[str, pd.DataFrame]:
        return {
            source: pd.concat(parts, ignore_index=True) for source, parts in self._rejected.items()
        }


def assemble(
    source: str,
    triage: Triage,
    tables: dict[str, pd.DataFrame],
    catalogue: Sequence[Product],
    extracted_at: datetime,
    notes: Sequence[str],
) -> ImportedExtract:
    """An import's extract: its tables in contract order, with the catalogue as `products`
    and an empty table for each required one the source does not have (interactions, and
    transactions for a source without them)."""
    tables = {"products": products_frame(catalogue), **tables}
    return ImportedExtract(
        source=source,
        tables={
            spec.name: tables[spec.name] if spec.name in tables else empty_table(spec.name)
            for spec in TABLES
            if spec.required or spec.name in tables
        },
        extracted_at=extracted_at,
        reports=triage.reports,
        rejected=triage.rejected,
        notes=tuple(notes),
    )


def first_reason(index: pd.Index, checks: Sequence[Check]) -> pd.Series:
    """Per row, the reason of the first check it fails; missing where it passes them all."""
    reason = pd.Series(None, index=index, dtype="object")
    for check in checks:
        # A rule that cannot be evaluated on a row (NA) is not broken by it.
        bad = check.bad.reindex(index, fill_value=False).fillna(False).astype(bool)
        reason = reason.mask(reason.isna() & bad, check.reason)
    return reason


def require_columns(source: str, raw: pd.DataFrame, columns: Sequence[str]) -> None:
    """Stop when a source file lacks a column the importer reads.

    Raises:
        DataError: naming the file, the missing columns and the columns it has.
    """
    missing = [name for name in columns if name not in raw.columns]
    if missing:
        raise DataError(
            f"{source}: column(s) {', '.join(missing)} missing; the file has "
            f"{', '.join(map(str, raw.columns))}"
        )


def check_quarantine_share(extract: ImportedExtract, max_share: float) -> None:
    """Stop when a source file is broken rather than a few of its rows.

    Raises:
        DataError: more than `max_share` of a file's rows are bad, naming the top reasons.
    """
    for report in extract.reports:
        bad = report.rows_quarantined
        if report.rows_read and bad > max_share * report.rows_read:
            top = sorted(report.quarantined.items(), key=lambda item: -item[1])[:5]
            listing = "; ".join(
                f"{reason} ({count:,} rows, e.g. {report.examples.get(reason)!r})"
                for reason, count in top
            )
            raise DataError(
                f"{report.source}: {bad:,} of {report.rows_read:,} rows "
                f"({bad / report.rows_read:.1%}) are bad, more than data.max_quarantine_share "
                f"= {max_share:.0%}: {listing}"
            )


def whole_numbers(values: pd.Series) -> pd.Series:
    """Whole numbers (ids, counts) from text; missing where the text is not one."""
    number = pd.to_numeric(values.str.strip(), errors="coerce")
    # From 2**53 on a float no longer tells whole numbers apart (and inf is none).
    whole = (number.abs() < 2**53) & (number == number.round())
    return number.where(whole).astype("Int64")


def end_of_day(day: pd.Timestamp) -> datetime:
    """The last second of a day: an extract taken that day holds everything booked on it."""
    return datetime.combine(day.date(), time(23, 59, 59))


def empty_table(name: str) -> pd.DataFrame:
    """A contract table with no rows (a source without transactions or interactions)."""
    return pd.DataFrame({column: [] for column in TABLES_BY_NAME[name].column_names})


def write_extract(extract: ImportedExtract, out_dir: Path) -> dict[str, Path]:
    """Write the contract tables, the manifest and the rejected rows into `out_dir`.

    Returns:
        Table name → Parquet file written. Earlier `_quarantine/` files are replaced.

    Raises:
        DataError: the folder holds a contract table this import would not replace (from
            another extract): loading would mix the two.
    """
    for spec in TABLES:
        existing = find_table_file(out_dir, spec.name)
        if existing is not None and (
            spec.name not in extract.tables or existing != out_dir / f"{spec.name}.parquet"
        ):
            raise DataError(
                f"{existing} belongs to another extract and this import would not replace "
                "it: write into an empty folder, or remove it"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, frame in extract.tables.items():
        path = out_dir / f"{name}.parquet"
        pq.write_table(contract_arrow(name, frame), path)
        written[name] = path
    quarantine = out_dir / QUARANTINE_DIR
    for old in quarantine.glob("*.parquet"):
        old.unlink()
    for source, rows in extract.rejected.items():
        quarantine.mkdir(exist_ok=True)
        rows.to_parquet(quarantine / f"{Path(source).stem}.parquet", index=False)
    manifest = {
        "extracted_at": extract.extracted_at.isoformat(),
        "source": extract.source,
        "rows": {name: len(frame) for name, frame in extract.tables.items()},
        "sources": {
            report.source: {
                "rows_read": report.rows_read,
                "quarantined": report.quarantined,
                "set_aside": report.set_aside,
            }
            for report in extract.reports
        },
        "notes": list(extract.notes),
    }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return written


def contract_arrow(name: str, frame: pd.DataFrame) -> pa.Table:
    """A frame as an Arrow table with the contract's column types, extra columns after.

    A contract column the source does not have is left out (loading reports it as absent)
    rather than written empty.

    Raises:
        ValueError: a required contract column is not in the frame (an importer's bug).
    """
    spec = TABLES_BY_NAME[name]
    missing = [c.name for c in spec.columns if c.required and c.name not in frame]
    if missing:
        raise ValueError(f"{name}: required column(s) {missing} not produced")
    arrays, fields = [], []
    for column in (c for c in spec.columns if c.name in frame):
        arrays.append(_arrow_array(frame[column.name], column.dtype))
        fields.append(pa.field(column.name, ARROW_TYPES[column.dtype]))
    for extra in (c for c in frame.columns if c not in spec.column_names):
        arrays.append(pa.array(frame[extra], from_pandas=True))
        fields.append(pa.field(extra, arrays[-1].type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _arrow_array(values: pd.Series, dtype: str) -> pa.Array:
    if dtype == "date":
        days = pd.to_datetime(values).dt.date
        return pa.array(days.astype("object").where(days.notna(), None), type=pa.date32())
    if dtype == "timestamp":
        return pa.array(pd.to_datetime(values).astype("datetime64[us]"), type=pa.timestamp("us"))
    return pa.array(values.astype("object").where(values.notna(), None), type=ARROW_TYPES[dtype])


def date_range(frame: pd.DataFrame, column: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last value of a table's time column; None when it has none."""
    values = pd.to_datetime(frame[column]).dropna()
    return (values.min(), values.max()) if len(values) else None
