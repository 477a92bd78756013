"""`retain report service`: the plans' service standards over the last 12 months of an
extract (and the campaigns given), as an HTML page, CSVs and one JSON for a scheduler.

The figures are `evaluation.service_standards`'; this module reads what they need from the
extract (complaints, callbacks, satisfaction answers, the tiers at the period's end and a
quarter before) and from the campaigns' tasks and the CRM's contacts.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from common.config import RetainConfig
from common.names import CONTACTED_GROUPS
from evaluation import service_standards as standards
from evaluation.programme import campaign_files, over_capacity
from evaluation.programme_report import json_ready
from evaluation.report_format import NA, count, is_missing, number, pct, text
from evaluation.report_html import CSS

PERIOD_DAYS = 365
QUARTER_DAYS = 91
SECTIONS = {
    "complaints": "Complaint handling",
    "coverage": "Callback coverage and timeliness by tier and channel",
    "cadence": "Contact cadence by tier",
    "satisfaction": "Satisfaction by tier",
    "migrations": "Tier migrations over the last quarter",
    "moved": "Customers who moved tier, and the rule that placed them",
}


@dataclass
class ServiceReport:
    as_of: date
    tables: dict[str, pd.DataFrame]
    notes: list[str] = field(default_factory=list)


def service_report(bank, config: RetainConfig, campaign_dirs=(), as_of: date | None = None):
    """Every figure over the 12 months before `as_of` (default: the extract's day)."""
    from features import pipeline

    as_of = as_of or bank.extracted_at.date()
    end = pd.Timestamp(as_of)
    start = end - pd.Timedelta(days=PERIOD_DAYS)
    notes: list[str] = []
    interactions = _interactions(bank, start, end)
    features = pipeline.feature_frame(
        bank, [as_of - timedelta(days=QUARTER_DAYS), as_of], config.features
    )
    quarter_ago = pd.Timestamp(as_of - timedelta(days=QUARTER_DAYS))
    dated = pd.to_datetime(features["as_of"])
    before, now = features[dated == quarter_ago], features[dated == end]
    if before.empty:
        notes.append("tier migrations: not measurable, no customer a quarter before the day")
    tiers = now[["customer_id", "tier"]]
    programme = config.programme
    complaints = interactions[interactions["kind"] == "complaint"]
    callbacks = interactions[interactions["kind"] == "callback"]
    tables = {
        "complaints": standards.complaint_handling(complaints, end, programme),
        "cadence": standards.contact_cadence(
            callbacks, tiers, config.serving.tiers, programme.coverage_target
        ),
        "satisfaction": standards.satisfaction_by_tier(
            interactions[["customer_id", "satisfaction"]], tiers, programme
        ),
    }
    tables["migrations"], tables["moved"] = standards.tier_migrations(
        before, now, config.features.tiers
    )
    tables["coverage"] = _coverage(bank, config, campaign_dirs, notes)
    notes += [
        f"{row['measure']}: {row['note']}"
        for row in tables["complaints"].to_dict("records")
        if row["note"]
    ]
    if standards.missing_field(interactions, "satisfaction"):
        notes.append("satisfaction: not measurable: field interactions.satisfaction missing")
    return ServiceReport(as_of, tables, notes)


INTERACTION_COLUMNS = (
    "customer_id",
    "ts",
    "kind",
    "severity",
    "resolved_at",
    "responded_at",  # not in every extract: the response standard then is not measurable
    "satisfaction",
    "outcome",
)


def _interactions(bank, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Complaints, callbacks and satisfaction answers of the period (`interactions` is a
    required table; its optional fields may be all null)."""
    table = bank.tables["interactions"]
    kinds = ["complaint", "callback", "satisfaction_survey"]
    wanted = table.filter(table.kind.isin(kinds), table.ts >= start, table.ts < end)
    columns = [name for name in INTERACTION_COLUMNS if name in table.columns]
    return wanted.select(columns).to_pandas()


def _coverage(bank, config: RetainConfig, campaign_dirs, notes: list[str]) -> pd.DataFrame:
    """The campaigns' tasks given to callers within capacity, with the CRM's contacts."""
    from features.outcomes import read_contacts

    if not campaign_dirs:
        notes.append("callback coverage: not measurable without --campaign-dir")
        return pd.DataFrame()
    parts = []
    for folder in campaign_dirs:
        tasks, _, _ = campaign_files(folder, bank, config)
        campaign_id = str(tasks["campaign_id"].iat[0])
        contacts = read_contacts(config.output_dir, campaign_id)[["task_id", "contacted_at"]]
        made = tasks[tasks["group"].isin(CONTACTED_GROUPS)]
        parts.append(made[~over_capacity(made)].merge(contacts, on="task_id", how="left"))
    return standards.callback_coverage(
        pd.concat(parts, ignore_index=True), config.programme.coverage_target
    )


def write_service_report(report: ServiceReport, out_dir: Path) -> dict[str, Path]:
    """report.html, one CSV per table and figures.json in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, frame in report.tables.items():
        files[name] = out_dir / f"{name}.csv"
        frame.to_csv(files[name], index=False)
    files["figures"] = out_dir / "figures.json"
    document = {
        "as_of": report.as_of.isoformat(),
        "notes": report.notes,
        **{name: json_ready(frame.to_dict("records")) for name, frame in report.tables.items()},
    }
    files["figures"].write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")
    files["report"] = out_dir / "report.html"
    files["report"].write_text(render_service_html(report))
    return files


def render_service_html(report: ServiceReport) -> str:
    e = html.escape
    title = f"Service standards, the 12 months to {report.as_of}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{CSS}</style></head>",
        f"<body><h1>{e(title)}</h1>",
    ]
    if report.notes:
        items = "".join(f"<li>{e(note)}</li>" for note in report.notes)
        parts.append(f'<div class="notes"><strong>Notes</strong><ul>{items}</ul></div>')
    for name, heading in SECTIONS.items():
        parts += [f"<h2>{e(heading)}</h2>", _html_table(report.tables[name])]
    return "\n".join([*parts, "</body></html>", ""])


def _html_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p><em>Not measurable or no rows.</em></p>"
    e = html.escape
    head = "".join(f'<th scope="col">{e(str(column))}</th>' for column in frame.columns)
    rows = [
        "".join(f"<td>{e(cell_text(column, value, row))}</td>" for column, value in row.items())
        for row in frame.head(500).to_dict("records")
    ]
    body = "".join(f"<tr>{cells}</tr>" for cells in rows)
    return (
        f'<div class="wide"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


SHARES = {"coverage", "within_sla", "share", "satisfied", "target", "value"}


def cell_text(column: str, value, row: dict) -> str:
    """Shares as percentages (a complaint row's value and target in hours where its unit
    says so), counts with separators, yes / no / n/a for whether a standard is met."""
    if column == "met":
        return NA if is_missing(value) else ("yes" if value else "no")
    if column in SHARES:
        return number(value, 1) if row.get("unit") == "hours" else pct(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return count(value)
    return text(value)
