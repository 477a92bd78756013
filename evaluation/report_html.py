"""The report as one self-contained HTML page a programme owner can open anywhere: no
scripts, no external URL, the plots inline SVG. The numbers are shown as text in tables,
not only in plots, so a reader (or a test) can quote them.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import matplotlib.pyplot as plt
import pandas as pd

from evaluation.programme_result import ProgrammeEvaluation
from evaluation.report_format import (
    NA,
    ci,
    count,
    headline_rows,
    is_missing,
    number,
    p_value,
    pct,
    pp,
    text,
)
from evaluation.report_plots import calibration_plot, forest_plot, qini_plot, svg

TARGETS_SECTION = "Churn against the plan's targets"
FORMAT_NOTE = (
    "Rates are percentages; effects are treatment − holdout differences in percentage "
    "points (pp) with their 95% interval in brackets; n/a marks a value that does not exist."
)

# A table column: header, cell text from the row, right-aligned (numbers) or not.
Column = tuple[str, Callable[[dict], str], bool]


def _col(header: str, name: str, fmt: Callable = text, numeric: bool = True) -> Column:
    return (header, lambda row: fmt(row[name]), numeric)


def _label(header: str, name: str) -> Column:
    return (header, lambda row: text(row[name]), False)


def _meets(row: dict) -> str:
    if is_missing(row["target"]) or is_missing(row["meets_target"]):
        return NA
    return "yes" if bool(row["meets_target"]) else "no"


HTML_COLUMNS: dict[str, list[Column]] = {
    "operations": [
        _label("Tier", "tier"),
        _label("Channel", "channel"),
        _col("Tasks", "tasks", count),
        _col("Contacted", "contacted", count),
        _col("Coverage", "coverage", pct),
        _col("Within SLA", "within_sla", pct),
    ],
    "service": [
        _label("Measure", "measure"),
        _col("Eligible", "eligible", count),
        _col("Within 7 days", "within_7_days", count),
        _col("Share", "share", pct),
    ],
    "outcomes": [
        _label("Group", "group"),
        _col("Customers", "customers", count),
        _col("Contacted", "contacted", count),
        _col("Churn rate", "churn_rate", pct),
        _col("Repurchase rate", "repurchase_rate", pct),
        _col("Satisfaction before", "satisfaction_before", number),
        _col("Satisfaction after", "satisfaction_after", number),
        _col("Complaints resolved", "resolution_rate", pct),
    ],
    "churn_by_tier": [
        _label("Tier", "tier"),
        _col("Customers", "customers", count),
        _col("Churn over the horizon", "churn_rate_horizon", pct),
        _col("Annualised churn", "annualised_churn", pct),
        _col("Target (annual)", "target", pct),
        ("Meets target", _meets, False),
    ],
    "effects": [
        _label("Outcome", "outcome"),
        _label("Estimand", "estimand"),
        _label("Segment", "segment"),
        _label("Value", "value"),
        _col("Treated", "treated_n", count),
        _col("Treated rate", "treated_rate", pct),
        _col("Holdout", "holdout_n", count),
        _col("Holdout rate", "holdout_rate", pct),
        _col("Difference", "difference", pp),
        ("95% CI (pp)", lambda row: ci(row["ci_low"], row["ci_high"]), True),
        _col("p-value", "p_value", p_value),
        _col("p-value, BH-adjusted (secondary)", "p_value_adjusted", p_value),
        ("Endpoint", lambda row: "primary" if row.get("primary") else "secondary", False),
    ],
    "calibration": [
        _col("Risk decile", "decile", count),
        _col("Customers", "customers", count),
        _col("Mean predicted churn", "mean_predicted", pct),
        _col("Realised churn", "realised_churn", pct),
    ],
    "targeting": [
        _label("Targeting", "targeting"),
        _col("Calls", "calls", count),
        _col("Retained per 1,000 calls", "retained_per_1000_calls", lambda v: number(v, 1)),
        _col("Qini (held-back test-and-learn list)", "qini", p_value),
    ],
}

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2433;
       max-width: 1280px; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #d0d5dd; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .92rem; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #e4e7ec; text-align: left; }
th { background: #f2f4f7; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.wide { overflow-x: auto; }
table.key th { background: none; font-weight: normal; color: #475467; }
table.key td { font-weight: 600; }
tr.overall td { font-weight: 600; border-top: 2px solid #98a2b3; }
.notes { background: #fffaeb; border-left: 4px solid #f79009; padding: .5rem 1rem; }
.format { color: #475467; font-size: .88rem; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #475467; font-size: .88rem; }
"""


def render_html(evaluation: ProgrammeEvaluation, title: str) -> str:
    """The whole page: head, notes, then one section per part of the evaluation."""
    parts = [
        *_head(title),
        *_notes(evaluation.notes),
        *_links(evaluation.links),
        *_key_figures(evaluation.headline),
        *_operations(evaluation),
        "<h2>Outcomes</h2>",
        _table("outcomes", evaluation.outcomes),
        f"<h2>{html.escape(TARGETS_SECTION)}</h2>",
        _table("churn_by_tier", evaluation.churn_by_tier, overall="tier"),
        *_effects(evaluation.effects),
        *_model_health(evaluation.calibration),
        *_targeting(evaluation),
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def _head(title: str) -> list[str]:
    e = html.escape
    return [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{e(title)}</h1>",
    ]


def _notes(notes: list[str]) -> list[str]:
    if not notes:
        return []
    items = "".join(f"<li>{html.escape(str(note))}</li>" for note in notes)
    return [f'<div class="notes"><strong>Notes</strong><ul>{items}</ul></div>']


def _links(links: dict[str, str]) -> list[str]:
    if not links:
        return []
    e = html.escape
    items = " · ".join(f'<a href="{e(url)}">{e(label)}</a>' for label, url in links.items())
    return [f'<p class="links">See also: {items}</p>']


def _key_figures(headline: dict) -> list[str]:
    e = html.escape
    rows = "".join(
        f'<tr><th scope="row">{e(label)}</th><td class="num">{e(value)}</td></tr>'
        for label, value in headline_rows(headline)
    )
    return [
        "<h2>Key figures</h2>",
        f'<table class="key"><tbody>{rows}</tbody></table>',
        f'<p class="format">{e(FORMAT_NOTE)}</p>',
    ]


def _operations(evaluation: ProgrammeEvaluation) -> list[str]:
    return [
        "<h2>Operations</h2>",
        "<h3>Campaign tasks of the treatment group by tier and channel</h3>",
        _table("operations", evaluation.operations),
        "<h3>Service standards</h3>",
        "<p>Complaint follow-ups within 7 days of resolution; welcome calls within 7 days "
        "of opening.</p>",
        _table("service", evaluation.service),
    ]


def _effects(effects: pd.DataFrame) -> list[str]:
    parts = [
        "<h2>Effect of the campaign</h2>",
        "<p>Treatment − holdout difference of each rate. <em>Intention to treat</em> "
        "compares everyone assigned to the campaign with the holdout, contacted or not; "
        "<em>contacted vs holdout</em> is the effect on the customers a call reached: the "
        "intention-to-treat difference and its interval divided by the share reached "
        "(Bloom's estimator; it assumes a call that did not reach the customer changed "
        "nothing).</p>",
        _table("effects", effects),
    ]
    if len(effects):
        parts.append(
            _figure(
                forest_plot(effects),
                "forest",
                "Difference in percentage points with its 95% interval, per segment; "
                "left of the line the treatment group had the lower rate.",
            )
        )
    return parts


def _model_health(calibration: pd.DataFrame) -> list[str]:
    parts = [
        "<h2>Model health: realised churn by predicted risk decile</h2>",
        _table("calibration", calibration),
    ]
    if len(calibration):
        parts.append(
            _figure(
                calibration_plot(calibration),
                "calibration",
                "Mean predicted churn against realised churn per risk decile; a calibrated "
                "model lies on the diagonal.",
            )
        )
    return parts


def _targeting(evaluation: ProgrammeEvaluation) -> list[str]:
    """Only when the evaluation compares targetings (the demo's cycle 2)."""
    if evaluation.targeting is None and not evaluation.qini_curves:
        return []
    parts = ["<h2>Targeting</h2>"]
    if evaluation.targeting is not None:
        parts.append(_table("targeting", evaluation.targeting))
    if evaluation.qini_curves:
        parts.append(
            _figure(
                qini_plot(evaluation.qini_curves),
                "qini",
                "Qini curves on the part of the test-and-learn list the uplift model "
                "never saw: cumulative incremental customers retained as the share of "
                "customers called grows; the dashed line is random targeting.",
            )
        )
    return parts


_NUM = ' class="num"'


def _table(name: str, frame: pd.DataFrame, overall: str | None = None) -> str:
    """One table of the evaluation with its `HTML_COLUMNS`; the row whose `overall`
    column says "overall" is set apart."""
    if frame is None or len(frame) == 0:
        return "<p><em>No rows.</em></p>"
    e = html.escape
    columns = HTML_COLUMNS[name]
    head = "".join(
        f'<th scope="col"{_NUM if numeric else ""}>{e(header)}</th>'
        for header, _, numeric in columns
    )
    body = []
    for row in frame.to_dict(orient="records"):
        cells = "".join(
            f"<td{_NUM if numeric else ''}>{e(cell(row))}</td>" for _, cell, numeric in columns
        )
        is_overall = overall is not None and str(row[overall]).lower() == "overall"
        body.append(f'<tr class="overall">{cells}</tr>' if is_overall else f"<tr>{cells}</tr>")
    return (
        f'<div class="wide"><table class="{e(name)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _figure(figure: plt.Figure, name: str, caption: str) -> str:
    return (
        f'<figure class="{name}">{svg(figure, name)}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )
