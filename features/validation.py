"""Load a bank extract and hold it to the data contract.

Every rule comes from the declaration in `features.schema` and is compiled into one Ibis
expression per table, so the check runs inside the engine (DuckDB or Spark) in a single pass,
never row by row in Python. Problems that make a whole table unusable stop the run with a
`DataError`; rows that break a rule move to `quarantine/<table>.parquet` with the reason,
and the run goes on.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from common.config import DataConfig
from common.errors import DataError
from features import engine
from features.schema import MANIFEST_FILE, TABLES, Column, Table

REASON = "_reason"
BAD_VALUE = "_bad_value"
_RAW = "_raw__"
_COPIES = "_key_copies"
_PARENT_TABLES = {
    col.references.split(".")[0] for table in TABLES for col in table.columns if col.references
}


@dataclass(frozen=True)
class TableReport:
    """What loading one table found."""

    table: str
    source: str
    rows_read: int
    rows_quarantined: int
    reasons: dict[str, int]
    examples: dict[str, str | None]
    completeness: dict[str, float]
    absent_columns: tuple[str, ...]


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
        report = _report(spec, path, raw, staged, config)
        if report.rows_quarantined and quarantine_dir is not None:
            quarantine_dir.mkdir(parents=True, exist_ok=True)
            target = quarantine_dir / f"{spec.name}.parquet"
            _quarantined(raw, staged.checked()).to_parquet(target)
            quarantine_files[spec.name] = target
        clean = staged.clean(fired=report.reasons)
        # Tables other tables refer to are probed by every foreign-key check: compute them
        # once. The rest stay views over the files: on a clean extract a view is the file
        # itself, and tens of millions of rows stay out of memory.
        if spec.name in _PARENT_TABLES:
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


@dataclass(frozen=True)
class StagedTable:
    """A raw table with typed columns and the contract's row rules, not yet executed."""

    spec: Table
    table: ir.Table  # raw columns (prefixed) + typed columns
    rules: tuple[tuple[ir.BooleanValue, str, ir.StringValue], ...]
    cast_columns: tuple[str, ...]  # columns whose raw type differed and were cast

    def checked(self) -> ir.Table:
        """Every row, with the first rule it breaks (`_reason`) and the offending value."""
        return self.table.mutate(
            **{
                REASON: ibis.cases(
                    *[(cond, reason) for cond, reason, _ in self.rules], else_=ibis.null("string")
                ),
                BAD_VALUE: ibis.cases(
                    *[(cond, value) for cond, _, value in self.rules], else_=ibis.null("string")
                ),
            }
        )

    def clean(self, fired: Collection[str] | None = None) -> ir.Table:
        """Typed rows that break no rule.

        Args:
            fired: reasons known to occur (from the report). Rules that never fire filter
                nothing, so leaving them out gives the same rows without evaluating them on
                every row; a clean extract is then read with no filter at all.
        """
        conditions = [cond for cond, reason, _ in self.rules if fired is None or reason in fired]
        table = self.table
        if conditions:
            table = table.filter(~ibis.or_(*conditions))
        return table.select(*self.spec.column_names)


def stage_table(
    spec: Table,
    raw: ir.Table,
    parents: dict[str, ir.Table],
    extracted_at: datetime,
    check_duplicates: bool | None = None,
) -> StagedTable:
    """Type a raw table by its declaration and attach the row rules.

    Args:
        spec: the table's declaration.
        raw: the table as read.
        parents: validated tables its foreign keys point to.
        extracted_at: no timestamp may be later.
        check_duplicates: include the duplicate-key rule; None = only if a quick count
            finds repeated keys (a query is run now).
    """
    missing = [c.name for c in spec.columns if c.required and c.name not in raw.columns]
    if missing:
        raise DataError(
            f"table {spec.name}: required column(s) {', '.join(missing)} missing; "
            f"the file has {', '.join(raw.columns)}"
        )
    typed, cast_columns = {}, []
    for col in spec.columns:
        if col.name not in raw.columns:
            typed[col.name] = ibis.null(col.dtype)
        elif _same_type(raw[col.name].type(), ibis.dtype(col.dtype)):
            typed[col.name] = raw[col.name]
        else:
            typed[col.name] = raw[col.name].try_cast(col.dtype)
            cast_columns.append(col.name)
        if col.scheduled:
            limit = ibis.literal(extracted_at)
            typed[col.name] = ibis.cases(
                (typed[col.name] > limit, ibis.null(col.dtype)), else_=typed[col.name]
            )
    raw_kept = {f"{_RAW}{name}": raw[name] for name in raw.columns}
    staged = raw.select(**raw_kept, **typed)
    if check_duplicates is None and spec.primary_key:
        check_duplicates = _has_duplicate_keys(staged, spec.primary_key)
    if spec.primary_key and check_duplicates:
        # Only then pay for the window (a group-by and a join). A column, not an expression
        # inside the rules: SQL forbids window functions inside aggregates.
        key = [staged[name] for name in spec.primary_key]
        staged = staged.mutate(
            **{_COPIES: staged[spec.primary_key[0]].count().over(ibis.window(group_by=key))}
        )
    rules = tuple(_row_rules(spec, staged, parents, extracted_at, cast_columns))
    return StagedTable(spec, staged, rules, tuple(cast_columns))


def _has_duplicate_keys(staged: ir.Table, key: tuple[str, ...]) -> bool:
    counts = staged.aggregate(
        rows=staged.count(), keys=staged.select(*key).distinct().count().as_scalar()
    )
    row = counts.to_pyarrow().to_pylist()[0]
    return row["rows"] != row["keys"]


def _same_type(actual, declared) -> bool:
    if actual.is_timestamp() and declared.is_timestamp():
        return actual.timezone is None
    return type(actual) is type(declared)


def _row_rules(
    spec: Table,
    staged: ir.Table,
    parents: dict[str, ir.Table],
    extracted_at: datetime,
    cast_columns: Collection[str],
):
    """Yield (condition, reason, offending value) for each row-level rule, in priority order."""
    for col in spec.columns:
        value = staged[col.name]
        shown = value.cast("string")
        if col.name in cast_columns:
            raw_value = staged[f"{_RAW}{col.name}"]
            yield (
                value.isnull() & raw_value.notnull(),
                f"{col.name}: not a valid {col.dtype}",
                raw_value.cast("string"),
            )
            if col.dtype == "int64" and raw_value.type().is_floating():
                # A cast to an integer rounds: 2.6 would silently become severity 3.
                yield (
                    raw_value.notnull() & (raw_value != raw_value.floor()),
                    f"{col.name}: not a whole number",
                    raw_value.cast("string"),
                )
        if not col.nullable:
            yield value.isnull(), f"{col.name}: missing but required", ibis.null("string")
        yield from _value_rules(col, value, shown, extracted_at)
    for earlier, later in spec.time_order:
        yield (
            staged[earlier].notnull() & staged[later].notnull() & (staged[later] < staged[earlier]),
            f"{later}: before {earlier}",
            staged[later].cast("string"),
        )
    for col in spec.columns:
        if col.references is None:
            continue
        parent_table, parent_column = col.references.split(".")
        parent = parents[parent_table]
        yield (
            staged[col.name].notnull() & ~staged[col.name].isin(parent[parent_column]),
            f"{col.name}: unknown in {parent_table}",
            staged[col.name].cast("string"),
        )
    if _COPIES in staged.columns:
        yield (
            staged[_COPIES] > 1,
            f"{', '.join(spec.primary_key)}: duplicate key",
            staged[spec.primary_key[0]].cast("string"),
        )


def _value_rules(col: Column, value: ir.Column, shown: ir.Column, extracted_at: datetime):
    present = value.notnull()
    if col.allowed is not None:
        yield (
            present & ~value.isin(col.allowed),
            f"{col.name}: not one of {', '.join(col.allowed)}",
            shown,
        )
    if col.dtype == "float64":
        yield present & (value.isnan() | value.isinf()), f"{col.name}: not finite", shown
    if col.min_value is not None:
        yield present & (value < col.min_value), f"{col.name}: below {col.min_value:g}", shown
    if col.max_value is not None:
        yield present & (value > col.max_value), f"{col.name}: above {col.max_value:g}", shown
    if col.is_temporal:
        limit = extracted_at.date() if col.dtype == "date" else extracted_at
        yield (
            present & (value > ibis.literal(limit)),
            f"{col.name}: after the extraction time {extracted_at.isoformat()}",
            shown,
        )


def _quarantined(raw: ir.Table, staged: ir.Table) -> ir.Table:
    """Bad rows as they arrived (raw values as text), with the reason."""
    bad = staged.filter(staged[REASON].notnull())
    return bad.select(
        **{name: bad[f"{_RAW}{name}"].cast("string") for name in raw.columns},
        **{REASON: bad[REASON]},
    )


def _report(
    spec: Table, path: Path, raw: ir.Table, staged_table: StagedTable, config: DataConfig
) -> TableReport:
    present = [col for col in spec.columns if col.name in raw.columns]
    staged = staged_table.table
    any_bad = ibis.or_(*[cond for cond, _, _ in staged_table.rules])
    counts = (
        staged.aggregate(
            rows=staged.count(),
            bad=staged.count(where=any_bad),
            **{f"typed__{c.name}": staged[c.name].count() for c in present},
            **{f"raw__{c}": staged[f"{_RAW}{c}"].count() for c in staged_table.cast_columns},
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    rows = int(counts["rows"])
    if rows == 0 and spec.name in _PARENT_TABLES:
        raise DataError(f"table {spec.name} ({path.name}) has no rows")
    for col in present:
        if col.name not in staged_table.cast_columns:
            continue
        raw_count, typed_count = counts[f"raw__{col.name}"], counts[f"typed__{col.name}"]
        if raw_count and not typed_count:
            example = (
                staged.filter(staged[f"{_RAW}{col.name}"].notnull())
                .select(staged[f"{_RAW}{col.name}"].cast("string").name("v"))
                .limit(1)
                .to_pyarrow()
                .to_pylist()[0]["v"]
            )
            raise DataError(
                f"table {spec.name}, column {col.name}: none of {raw_count:,} values reads "
                f"as {col.dtype}, e.g. {example!r}"
            )
    reasons: dict[str, int] = {}
    examples: dict[str, str | None] = {}
    bad = int(counts["bad"] or 0)  # Spark counts nothing in an empty table as NULL
    if bad:
        checked = staged_table.checked()
        by_reason = (
            checked.filter(checked[REASON].notnull())
            .group_by(REASON)
            .aggregate(rows=ibis._.count(), example=ibis._[BAD_VALUE].arbitrary())
            .order_by(ibis.desc("rows"), REASON)
            .to_pyarrow()
            .to_pylist()
        )
        reasons = {row[REASON]: int(row["rows"]) for row in by_reason}
        examples = {row[REASON]: row["example"] for row in by_reason}
        if bad > config.max_quarantine_share * rows:
            listing = "; ".join(
                f"{reason} ({count:,} rows, e.g. {examples[reason]!r})"
                for reason, count in list(reasons.items())[:5]
            )
            raise DataError(
                f"table {spec.name}: {bad:,} of {rows:,} rows ({bad / rows:.1%}) break the "
                f"contract, more than data.max_quarantine_share = "
                f"{config.max_quarantine_share:.0%}: {listing}"
            )
    completeness = {
        col.name: (counts[f"typed__{col.name}"] / rows if rows and col in present else 0.0)
        for col in spec.columns
    }
    return TableReport(
        table=spec.name,
        source=path.name,
        rows_read=rows,
        rows_quarantined=bad,
        reasons=reasons,
        examples=examples,
        completeness=completeness,
        absent_columns=tuple(c.name for c in spec.columns if c not in present),
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
