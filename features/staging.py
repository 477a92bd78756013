"""Hold one raw table to the data contract: type it, attach the row rules, report them.

Every rule comes from the declaration in `features.schema` and is compiled into one Ibis
expression per table, so the check runs inside the engine (DuckDB or Spark) in a single pass,
never row by row in Python. Loading an extract (`features.validation`), a campaign's contact
log (`features.outcomes`) and one customer's request (`features.online`) all stage their
tables here, so a row means the same wherever it comes from.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from common.config import DataConfig
from common.errors import DataError
from features.schema import TABLES, Column, Table

REASON = "_reason"
BAD_VALUE = "_bad_value"
_RAW = "_raw__"
_COPIES = "_key_copies"
# Tables other tables refer to: they must have rows, and loading computes them once.
PARENT_TABLES = {
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
    if col.is_temporal and not col.agreed_ahead:
        limit = extracted_at.date() if col.dtype == "date" else extracted_at
        yield (
            present & (value > ibis.literal(limit)),
            f"{col.name}: after the extraction time {extracted_at.isoformat()}",
            shown,
        )


def quarantined_rows(raw: ir.Table, checked: ir.Table) -> ir.Table:
    """Bad rows as they arrived (raw values as text), with the reason.

    Args:
        raw: the table as read.
        checked: its staged table's `checked()` rows.
    """
    bad = checked.filter(checked[REASON].notnull())
    return bad.select(
        **{name: bad[f"{_RAW}{name}"].cast("string") for name in raw.columns},
        **{REASON: bad[REASON]},
    )


def report_table(
    spec: Table, path: Path, raw: ir.Table, staged_table: StagedTable, config: DataConfig
) -> TableReport:
    """Count the rows a staged table keeps and quarantines, by reason (one query, and one
    more when some rows are bad).

    Args:
        spec: the table's declaration.
        path: the file it was read from (named in the report).
        raw: the table as read.
        staged_table: `stage_table` of it.
        config: quarantine tolerance.

    Raises:
        DataError: a table others refer to has no rows, a column has values and none of
            them reads as its type, or more rows are bad than
            `config.max_quarantine_share` allows.
    """
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
    if rows == 0 and spec.name in PARENT_TABLES:
        raise DataError(f"table {spec.name} ({path.name}) has no rows")
    _require_readable_columns(spec, staged_table, present, counts)
    reasons: dict[str, int] = {}
    examples: dict[str, str | None] = {}
    bad = int(counts["bad"] or 0)  # Spark counts nothing in an empty table as NULL
    if bad:
        reasons, examples = _reasons(staged_table.checked())
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


def _require_readable_columns(
    spec: Table, staged_table: StagedTable, present: list[Column], counts: dict[str, Any]
) -> None:
    """A cast column with values of which none reads as its type is a wrong file, not bad
    rows: stop with one example.

    Args:
        present: the declared columns the file has.
        counts: the report's counts of values per column, raw (`raw__`) and typed
            (`typed__`).
    """
    staged = staged_table.table
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


def _reasons(checked: ir.Table) -> tuple[dict[str, int], dict[str, str | None]]:
    """Rows and one offending value per reason, the most frequent reason first."""
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
    return reasons, examples
