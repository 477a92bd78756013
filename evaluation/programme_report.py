"""The programme-evaluation report: one self-contained HTML file a programme owner can open
anywhere (no scripts, no external URL: the plots are inline SVG from matplotlib), plus the
same figures as CSV (one per table) and JSON (everything, NaN as null).

The numbers are shown as text in tables, not only in plots, so a reader (or a test) can
quote them. Rates are percentages with one decimal, effects percentage points with their
95% interval as "[low, high]", p-values three significant digits.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from common.files import write_text  # noqa: E402

COLUMNS: dict[str, tuple[str, ...]] = {
    "operations": ("tier", "channel", "tasks", "contacted", "coverage", "within_sla"),
    "service": ("measure", "eligible", "within_7_days", "share"),
    "outcomes": (
        "group",
        "customers",
        "contacted",
        "churn_rate",
        "repurchase_rate",
        "satisfaction_before",
        "satisfaction_after",
        "resolution_rate",
    ),
    "churn_by_tier": (
        "tier",
        "customers",
        "churn_rate_horizon",
        "annualised_churn",
        "target",
        "meets_target",
    ),
    "effects": (
        "outcome",
        "estimand",
        "segment",
        "value",
        "treated_n",
        "treated_rate",
        "holdout_n",
        "holdout_rate",
        "difference",
        "ci_low",
        "ci_high",
        "p_value",
        "test",
    ),
    "calibration": ("decile", "customers", "mean_predicted", "realised_churn"),
    "targeting": ("targeting", "calls", "retained_per_1000_calls", "qini"),
}


@dataclass
class ProgrammeEvaluation:
    """Everything the report shows; rates and effects as fractions (0.021, not 2.1)."""

    headline: dict  # ordered key -> number/str; see HEADLINE_LABELS
    operations: pd.DataFrame  # tier, channel, tasks, contacted, coverage, within_sla
    service: pd.DataFrame  # measure, eligible, within_7_days, share
    outcomes: pd.DataFrame  # group, customers, contacted, churn_rate, repurchase_rate, ...
    churn_by_tier: pd.DataFrame  # tier, customers, churn_rate_horizon, annualised_churn, ...
    effects: pd.DataFrame  # outcome, estimand, segment, value, treated_n, ..., p_value, test
    calibration: pd.DataFrame  # decile, customers, mean_predicted, realised_churn
    targeting: pd.DataFrame | None = None  # targeting, calls, retained_per_1000_calls, qini
    qini_curves: dict[str, tuple[np.ndarray, np.ndarray]] | None = None  # (share, qini)
    notes: list[str] = field(default_factory=list)  # plain-text caveats shown at the top

    def tables(self) -> dict[str, pd.DataFrame]:
        tables = {name: getattr(self, name) for name in COLUMNS if name != "targeting"}
        if self.targeting is not None:
            tables["targeting"] = self.targeting
        return tables


HEADLINE_LABELS = {
    "campaign_id": "Campaign",
    "as_of": "As of",
    "horizon_days": "Outcome horizon (days)",
    "targeting": "Targeting",
    "tasks": "Campaign tasks (both groups)",
    "treatment": "Customers in treatment",
    "holdout": "Customers in holdout",
    "coverage": "Coverage (tasks contacted)",
    "reached": "Reached (share of treatment tasks)",
    "within_sla": "Contacted within SLA",
    "contacted_churn_effect": "Churn effect on the reached (ITT ÷ share reached)",
    "itt_churn_effect": "Churn effect, intention to treat [95% CI]",
    "itt_p_value": "p-value, intention to treat",
    "true_itt_churn_effect": "True churn effect, intention to treat (simulation only)",
}
_RATE_KEYS = {"coverage", "within_sla", "share", "reached"}

TARGETS_SECTION = "Churn against the plan's targets"
FORMAT_NOTE = (
    "Rates are percentages; effects are treatment − holdout differences in percentage "
    "points (pp) with their 95% interval in brackets; n/a marks a value that does not exist."
)


def write_report(evaluation: ProgrammeEvaluation, out_dir: Path, title: str) -> dict[str, Path]:
    """Writes out_dir/report.html, out_dir/figures.json (headline + every table as records,
    NaN as null) and one CSV per table (targeting.csv only when there is targeting).
    Each file is written to a `.partial` name first, then renamed. Returns name -> path:
    "report", "figures" and the table names."""
    tables = evaluation.tables()
    for name, frame in tables.items():
        missing = [column for column in COLUMNS[name] if column not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks the columns {missing}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in tables.items():
        paths[name] = write_text(frame.to_csv(index=False), out_dir / f"{name}.csv")
    figures = {
        "title": title,
        "notes": list(evaluation.notes),
        "headline": {key: json_ready(value) for key, value in evaluation.headline.items()},
        **{name: _records(frame) for name, frame in tables.items()},
    }
    if evaluation.qini_curves:
        figures["qini_curves"] = {
            name: {"targeted_share": json_ready(list(x)), "qini": json_ready(list(y))}
            for name, (x, y) in evaluation.qini_curves.items()
        }
    document = json.dumps(figures, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    paths["figures"] = write_text(document, out_dir / "figures.json")
    paths["report"] = write_text(render_html(evaluation, title), out_dir / "report.html")
    return paths


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {str(column): json_ready(value) for column, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def json_ready(value):
    """A JSON value: NaN/NaT/None -> null, numpy scalars -> Python, dates -> ISO text."""
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if _missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return None
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


# --- formatting --------------------------------------------------------------------------


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(np.ndim(value) == 0 and pd.isna(value))
    except (TypeError, ValueError):
        return False


NA = "n/a"


def pct(value) -> str:
    """0.1234 -> "12.3%"."""
    return NA if _missing(value) else f"{100 * float(value):.1f}%"


def pp(value) -> str:
    """A difference of rates in percentage points: -0.0213 -> "-2.1 pp"."""
    return NA if _missing(value) else f"{100 * float(value):+.1f} pp"


def ci(low, high) -> str:
    """An interval of a difference in percentage points: "[-3.5, -0.7]"."""
    if _missing(low) or _missing(high):
        return NA
    return f"[{100 * float(low):.1f}, {100 * float(high):.1f}]"


def p_value(value) -> str:
    """Three significant digits: 0.01234 -> "0.0123"."""
    return NA if _missing(value) else f"{float(value):.3g}"


def count(value) -> str:
    return NA if _missing(value) else f"{round(float(value)):,}"


def number(value, digits: int = 2) -> str:
    return NA if _missing(value) else f"{float(value):.{digits}f}"


def text(value) -> str:
    if _missing(value):
        return NA
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def headline_rows(headline: dict) -> list[tuple[str, str]]:
    """(label, formatted value) per headline figure; an effect carries its interval
    (`itt_churn_effect` takes `itt_ci_low` / `itt_ci_high`), which then has no row."""
    intervals = {}
    for key in headline:
        if key.endswith("_ci_low") and f"{key[: -len('_ci_low')]}_ci_high" in headline:
            prefix = key[: -len("_ci_low")]
            intervals[prefix] = (headline[key], headline[f"{prefix}_ci_high"])
    rows, shown = [], set()
    for key, value in headline.items():
        if key in shown:
            continue
        label = HEADLINE_LABELS.get(key, key.replace("_", " ").capitalize())
        if key.endswith("_effect"):
            prefix = next((p for p in _prefixes(key) if p in intervals), None)
            formatted = pp(value)
            if prefix is not None:
                formatted += " " + ci(*intervals[prefix])
                shown |= {f"{prefix}_ci_low", f"{prefix}_ci_high"}
        elif key.endswith("p_value"):
            formatted = p_value(value)
        elif key in _RATE_KEYS or key.endswith(("_rate", "_share", "_coverage")):
            formatted = pct(value)
        else:
            formatted = text(value)
        rows.append((label, formatted))
    # An interval without its effect still gets its rows, after the rest.
    return rows + [
        (key.replace("_", " ").capitalize(), pp(value))
        for key, value in headline.items()
        if key.endswith(("_ci_low", "_ci_high")) and key not in shown
    ]


def _prefixes(key: str) -> list[str]:
    """itt_churn_effect -> ["itt_churn", "itt"]: where its interval's keys may start."""
    parts = key[: -len("_effect")].split("_")
    return ["_".join(parts[:n]) for n in range(len(parts), 0, -1)]


# A table column: header, cell text from the row, right-aligned (numbers) or not.
Column = tuple[str, Callable[[dict], str], bool]


def _col(header: str, name: str, fmt: Callable = text, numeric: bool = True) -> Column:
    return (header, lambda row: fmt(row[name]), numeric)


def _label(header: str, name: str) -> Column:
    return (header, lambda row: text(row[name]), False)


def _meets(row: dict) -> str:
    if _missing(row["target"]) or _missing(row["meets_target"]):
        return NA
    return "yes" if bool(row["meets_target"]) else "no"


TABLE_COLUMNS: dict[str, list[Column]] = {
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
        _label("Test", "test"),
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


# --- HTML ----------------------------------------------------------------------------------

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
    e = html.escape
    parts = [
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
    if evaluation.notes:
        items = "".join(f"<li>{e(str(note))}</li>" for note in evaluation.notes)
        parts.append(f'<div class="notes"><strong>Notes</strong><ul>{items}</ul></div>')
    parts.append("<h2>Key figures</h2>")
    rows = "".join(
        f'<tr><th scope="row">{e(label)}</th><td class="num">{e(value)}</td></tr>'
        for label, value in headline_rows(evaluation.headline)
    )
    parts.append(f'<table class="key"><tbody>{rows}</tbody></table>')
    parts.append(f'<p class="format">{e(FORMAT_NOTE)}</p>')

    parts.append("<h2>Operations</h2>")
    parts.append("<h3>Campaign tasks of the treatment group by tier and channel</h3>")
    parts.append(_table("operations", evaluation.operations))
    parts.append("<h3>Service standards</h3>")
    parts.append(
        "<p>Complaint follow-ups within 7 days of resolution; welcome calls within 7 days "
        "of opening.</p>"
    )
    parts.append(_table("service", evaluation.service))

    parts.append("<h2>Outcomes</h2>")
    parts.append(_table("outcomes", evaluation.outcomes))

    parts.append(f"<h2>{e(TARGETS_SECTION)}</h2>")
    parts.append(_table("churn_by_tier", evaluation.churn_by_tier, overall="tier"))

    parts.append("<h2>Effect of the campaign</h2>")
    parts.append(
        "<p>Treatment − holdout difference of each rate. <em>Intention to treat</em> "
        "compares everyone assigned to the campaign with the holdout, contacted or not; "
        "<em>contacted vs holdout</em> is the effect on the customers a call reached: the "
        "intention-to-treat difference and its interval divided by the share reached "
        "(Bloom's estimator; it assumes a call that did not reach the customer changed "
        "nothing).</p>"
    )
    parts.append(_table("effects", evaluation.effects))
    if len(evaluation.effects):
        parts.append(
            _figure(
                forest_plot(evaluation.effects),
                "forest",
                "Difference in percentage points with its 95% interval, per segment; "
                "left of the line the treatment group had the lower rate.",
            )
        )

    parts.append("<h2>Model health: realised churn by predicted risk decile</h2>")
    parts.append(_table("calibration", evaluation.calibration))
    if len(evaluation.calibration):
        parts.append(
            _figure(
                calibration_plot(evaluation.calibration),
                "calibration",
                "Mean predicted churn against realised churn per risk decile; a calibrated "
                "model lies on the diagonal.",
            )
        )

    if evaluation.targeting is not None or evaluation.qini_curves:
        parts.append("<h2>Targeting</h2>")
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
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


_NUM = ' class="num"'


def _table(name: str, frame: pd.DataFrame, overall: str | None = None) -> str:
    if frame is None or len(frame) == 0:
        return "<p><em>No rows.</em></p>"
    e = html.escape
    columns = TABLE_COLUMNS[name]
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


def svg(figure: plt.Figure, name: str) -> str:
    """The figure as an inline <svg> element (then closed): no XML prolog or DOCTYPE, no
    namespace URLs (HTML puts <svg> in its namespace itself), element ids salted by `name`
    so two figures on one page do not share one, and no date, so output is reproducible."""
    buffer = io.StringIO()
    metadata = {"Date": None, "Creator": None, "Format": None, "Type": None}
    try:
        with plt.rc_context({"svg.hashsalt": f"retain-{name}"}):
            figure.savefig(buffer, format="svg", metadata=metadata)
    finally:
        plt.close(figure)
    document = buffer.getvalue()
    element = document[document.index("<svg") :]
    opening, rest = element.split(">", 1)
    opening = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", opening)
    return f'{opening} role="img" aria-label="{html.escape(name)} plot">{rest}'.strip()


# --- plots --------------------------------------------------------------------------------

_ESTIMAND_STYLE = {"intention to treat": ("#1f5fa8", "o"), "contacted vs holdout": ("#d9480f", "s")}


def forest_plot(effects: pd.DataFrame) -> plt.Figure:
    """Difference with its interval per segment, one panel per outcome, a line at 0."""
    outcomes = list(dict.fromkeys(effects["outcome"]))
    heights = [max(len(effects[effects["outcome"] == o]), 1) for o in outcomes]
    figure, axes = plt.subplots(
        len(outcomes),
        1,
        figsize=(8, 1.2 * len(outcomes) + 0.38 * sum(heights)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for axis, outcome in zip(axes[:, 0], outcomes, strict=True):
        rows = effects[effects["outcome"] == outcome].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        labelled = set()
        for position, row in zip(y, rows.to_dict(orient="records"), strict=True):
            colour, marker = _ESTIMAND_STYLE.get(str(row["estimand"]), ("#344054", "D"))
            centre = 100 * _float(row["difference"])
            low, high = 100 * _float(row["ci_low"]), 100 * _float(row["ci_high"])
            error = [[centre - low], [high - centre]] if np.isfinite([low, high]).all() else None
            label = None if row["estimand"] in labelled else str(row["estimand"])
            labelled.add(row["estimand"])
            axis.errorbar(
                centre,
                position,
                xerr=error,
                fmt=marker,
                color=colour,
                capsize=3,
                label=label,
            )
        axis.axvline(0, color="#344054", lw=1)
        axis.set_yticks(y, [_segment_label(row) for row in rows.to_dict(orient="records")])
        axis.set_ylim(-0.7, len(rows) - 0.3)
        axis.set_title(f"{outcome}: treatment − holdout", loc="left", fontsize=10)
        axis.set_xlabel("difference (percentage points)")
        axis.grid(axis="x", color="#e4e7ec")
        axis.legend(loc="best", fontsize=8)
    figure.tight_layout()
    return figure


def _segment_label(row: dict) -> str:
    segment, value = text(row["segment"]), text(row["value"])
    name = segment if value in (segment, "all", NA) else f"{segment} = {value}"
    return f"{name} ({'ITT' if row['estimand'] == 'intention to treat' else 'contacted'})"


def _float(value) -> float:
    return math.nan if _missing(value) else float(value)


def calibration_plot(calibration: pd.DataFrame) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(5.5, 5))
    predicted = 100 * calibration["mean_predicted"].astype(float)
    realised = 100 * calibration["realised_churn"].astype(float)
    top = np.nanmax([predicted.max(), realised.max(), 1.0]) * 1.08
    axis.plot([0, top], [0, top], ":", color="#667085", lw=1, label="perfect calibration")
    axis.plot(predicted, realised, "o-", color="#1f5fa8", label="risk decile")
    for decile, x, y in zip(calibration["decile"], predicted, realised, strict=True):
        axis.annotate(text(decile), (x, y), textcoords="offset points", xytext=(4, -10), size=7)
    axis.set(
        xlim=(0, top),
        ylim=(0, top),
        xlabel="mean predicted churn (%)",
        ylabel="realised churn (%)",
        title="Realised churn by predicted risk decile",
    )
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure


def qini_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> plt.Figure:
    """The Qini curves, and random targeting: the straight line from nobody called to
    everybody called (the end point all curves share when computed on the same customers)."""
    figure, axis = plt.subplots(figsize=(6.5, 5))
    ends = []
    for name, (share, qini) in curves.items():
        share, qini = np.asarray(share, dtype=float), np.asarray(qini, dtype=float)
        axis.plot(100 * share, qini, label=name)
        if len(share):
            ends.append((share[-1], qini[-1]))
    if ends:
        end_share, end_qini = ends[0]
        axis.plot([0, 100 * end_share], [0, end_qini], "--", color="#667085", label="random")
    axis.axhline(0, color="#98a2b3", lw=0.8)
    axis.set(
        xlabel="customers called, by score (%)",
        ylabel="cumulative incremental retained (Qini)",
        title="Qini curves",
    )
    axis.legend(loc="best", fontsize=8)
    figure.tight_layout()
    return figure
