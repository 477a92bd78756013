"""The report's plots, drawn with matplotlib and inlined as SVG: the forest plot of the
effects, the calibration by risk decile, the Qini curves.
"""

from __future__ import annotations

import html
import io
import math
import re

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evaluation.report_format import NA, is_missing, text  # noqa: E402

_ESTIMAND_STYLE = {"intention to treat": ("#1f5fa8", "o"), "contacted vs holdout": ("#d9480f", "s")}


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
        _forest_panel(axis, outcome, effects[effects["outcome"] == outcome].reset_index(drop=True))
    figure.tight_layout()
    return figure


def _forest_panel(axis: plt.Axes, outcome: str, rows: pd.DataFrame) -> None:
    """One outcome's differences, top to bottom in the table's order; each estimand is
    labelled once in the legend."""
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


def _segment_label(row: dict) -> str:
    segment, value = text(row["segment"]), text(row["value"])
    name = segment if value in (segment, "all", NA) else f"{segment} = {value}"
    return f"{name} ({'ITT' if row['estimand'] == 'intention to treat' else 'contacted'})"


def _float(value) -> float:
    return math.nan if is_missing(value) else float(value)


def calibration_plot(calibration: pd.DataFrame) -> plt.Figure:
    """Mean predicted against realised churn per risk decile, with the diagonal."""
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
