"""Render `docs/data-contract.md` from the declaration in `features.schema`."""

from __future__ import annotations

from features.schema import MANIFEST_FILE, OUTCOME_TABLES, TABLES, Column

HEADER = f"""# The bank data contract

Generated from `features/schema.py` by `retain data contract --write docs/data-contract.md`;
a test fails when the two disagree, so edit the declaration, not this page.

A bank extract is a folder with one file per table: `<table>.parquet`, `<table>.csv`
(header row; any column order; extra columns are ignored) or a folder `<table>/` of Parquet
parts, plus `{MANIFEST_FILE}` saying when the extract was taken:

```json
{{"extracted_at": "2024-12-31T23:59:59"}}
```

Without a manifest, `data.extracted_at` from the configuration is used, else the current time.

## What loading checks

| problem | what happens |
|---|---|
| a required table or required column is missing | the run stops, naming the table and column and listing the columns found |
| a column none of whose values reads as its type | the run stops, naming table, column, the row count and an example value |
| a row breaks a rule below (unreadable value, missing required value, value not allowed, out of range, not finite, timestamp after the extraction time, later timestamp before the earlier one, unknown foreign key, duplicate key) | the row moves to `<output_dir>/quarantine/<table>.parquet` with its raw values and a `_reason`; the run goes on and reports the count per reason |
| more than `data.max_quarantine_share` (5 %) of a table's rows are bad | the run stops, naming the table, the share and the most common reasons with an example value |

Rows of a quarantined customer or product take their dependants with them (their holdings,
transactions … are quarantined as `unknown in customers`), so no record refers to nothing.
Both copies of a duplicated key are quarantined: which one is right cannot be known.

`retain data validate` also reports the completeness of every column (share of non-null
values); the banks' plans ask for at least 98 % (`data.completeness_threshold`). Columns
marked *sparse* below are null by design (an open holding has no `closed_at`) and are
reported but not flagged.

All timestamps are naive UTC. Amounts are in the bank's currency.
"""


def render_data_contract() -> str:
    """The data-contract page, as Markdown."""
    parts = [HEADER]
    for table in TABLES + OUTCOME_TABLES:
        if table in OUTCOME_TABLES:
            parts.append(
                f"## `{table.name}` (from the CRM, after a campaign)\n\n"
                "Not part of the bank's extract: loaded with `retain outcomes load FILE` "
                "(CSV or Parquet). Its timestamps may not be in the future.\n"
            )
        else:
            parts.append(f"## `{table.name}`{'' if table.required else ' (optional)'}\n")
        parts.append(table.description + "\n")
        if table.primary_key:
            parts.append(f"Key: ({', '.join(f'`{c}`' for c in table.primary_key)}), unique.  ")
        if table.event_time:
            parts.append(
                f"Placed in time by `{table.event_time}`: features as of D read only "
                "rows stamped before D."
            )
        for earlier, later in table.time_order:
            parts.append(f"  `{later}` may not precede `{earlier}`.")
        parts.append("\n\n| column | type | required | rules | meaning |\n|---|---|---|---|---|")
        parts.extend(_column_row(column) for column in table.columns)
        for note in table.notes:
            parts.append(f"\n> {note}")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def _column_row(column: Column) -> str:
    rules = []
    if not column.nullable:
        rules.append("not null")
    if column.allowed:
        rules.append("one of " + ", ".join(f"`{v}`" for v in column.allowed))
    if column.min_value is not None:
        rules.append(f"≥ {column.min_value:g}")
    if column.max_value is not None:
        rules.append(f"≤ {column.max_value:g}")
    if column.dtype == "float64":
        rules.append("finite")
    if column.agreed_ahead:
        rules.append("may be after extraction (agreed in advance)")
    elif column.is_temporal:
        rules.append("not after extraction")
    if column.references:
        rules.append(f"known in `{column.references}`")
    if column.sparse:
        rules.append("sparse")
    required = "yes" if column.required else ""
    return (
        f"| `{column.name}` | {column.dtype} | {required} | {'; '.join(rules)} | "
        f"{column.description} |"
    )
