"""The programme-evaluation report's files: one self-contained HTML page
(`evaluation.report_html`, plots from `evaluation.report_plots`), plus the same figures as
CSV (one per table) and JSON (everything, NaN as null).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from common.files import write_text
from evaluation.programme_result import ProgrammeEvaluation
from evaluation.report_format import is_missing
from evaluation.report_html import render_html

REPORT_HTML = "report.html"
FIGURES_JSON = "figures.json"


def write_report(evaluation: ProgrammeEvaluation, out_dir: Path, title: str) -> dict[str, Path]:
    """Writes out_dir/report.html, out_dir/figures.json (headline + every table as records,
    NaN as null) and one CSV per table (targeting.csv only when there is targeting).
    Each file is written to a `.partial` name first, then renamed. Returns name -> path:
    "report", "figures" and the table names.

    Raises:
        ValueError: a table lacks one of its columns.
    """
    missing = evaluation.missing_columns()
    if missing:
        name, columns = next(iter(missing.items()))
        raise ValueError(f"{name} lacks the columns {columns}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in evaluation.tables().items():
        paths[name] = write_text(frame.to_csv(index=False), out_dir / f"{name}.csv")
    paths["figures"] = write_text(figures_document(evaluation, title), out_dir / FIGURES_JSON)
    paths["report"] = write_text(render_html(evaluation, title), out_dir / REPORT_HTML)
    return paths


def figures_document(evaluation: ProgrammeEvaluation, title: str) -> str:
    """figures.json's text: title, notes, headline, every table as records, the Qini
    curves when given; NaN and infinities as null."""
    figures = {
        "title": title,
        "notes": list(evaluation.notes),
        "headline": {key: json_ready(value) for key, value in evaluation.headline.items()},
        **{name: _records(frame) for name, frame in evaluation.tables().items()},
    }
    if evaluation.qini_curves:
        figures["qini_curves"] = {
            name: {"targeted_share": json_ready(list(x)), "qini": json_ready(list(y))}
            for name, (x, y) in evaluation.qini_curves.items()
        }
    return json.dumps(figures, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


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
    if is_missing(value):
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
