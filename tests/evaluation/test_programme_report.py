"""The programme-evaluation report: its files, its numbers as text, and the page as a
reader sees it in a real browser (headless Chromium, tests/browser.py)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser import render

from evaluation.programme_report import write_report
from evaluation.programme_result import ProgrammeEvaluation
from evaluation.report_format import ci, headline_rows, p_value, pct, pp

SECTIONS = (
    "Key figures",
    "Operations",
    "Outcomes",
    "Churn against the plan's targets",
    "Effect of the campaign",
    "Model health: realised churn by predicted risk decile",
)
SILVER = "Silver <b>plus</b>"  # a tier name that must be shown, not parsed as markup


def evaluation(targeting: bool = True) -> ProgrammeEvaluation:
    headline = {
        "campaign_id": "spring-2024",
        "as_of": "2024-06-30",
        "horizon_days": 90,
        "tasks": 1234,
        "treatment": 1000,
        "holdout": 250,
        "coverage": 0.8567,
        "within_sla": 0.7,
        "itt_churn_effect": -0.0213,
        "itt_ci_low": -0.0351,
        "itt_ci_high": -0.0072,
        "itt_p_value": 0.0012345,
        "true_itt_churn_effect": -0.02,
    }
    operations = pd.DataFrame(
        {
            "tier": ["Gold", SILVER, "Gold"],
            "channel": ["phone", "phone", "email"],
            "tasks": [600, 400, 234],
            "contacted": [540, 300, 217],
            "coverage": [0.9, 0.75, 0.9274],
            "within_sla": [0.8, math.nan, 0.5],
        }
    )
    service = pd.DataFrame(
        {
            "measure": ["complaint follow-up", "welcome call"],
            "eligible": [80, 40],
            "within_7_days": [60, 38],
            "share": [0.75, 0.95],
        }
    )
    outcomes = pd.DataFrame(
        {
            "group": ["treatment", "holdout", "contacted"],
            "customers": [1000, 250, 857],
            "contacted": [857, 0, 857],
            "churn_rate": [0.0612, 0.0825, 0.0583],
            "repurchase_rate": [0.11, 0.092, 0.118],
            "satisfaction_before": [3.41, 3.38, 3.42],
            "satisfaction_after": [3.62, 3.4, 3.66],
            "resolution_rate": [0.81, 0.74, math.nan],
        }
    )
    churn_by_tier = pd.DataFrame(
        {
            "tier": ["Gold", SILVER, "overall"],
            "customers": [700, 550, 1250],
            "churn_rate_horizon": [0.05, 0.08, 0.0636],
            "annualised_churn": [0.187, 0.287, 0.234],
            "target": [0.2, math.nan, 0.25],
            "meets_target": [True, None, True],
        }
    )
    effects = pd.DataFrame(
        {
            "outcome": ["churn", "churn", "churn", "repurchase"],
            "estimand": [
                "intention to treat",
                "intention to treat",
                "contacted vs holdout",
                "intention to treat",
            ],
            "segment": ["all", "tier", "all", "all"],
            "value": ["all", SILVER, "all", "all"],
            "treated_n": [1000, 440, 857, 1000],
            "treated_rate": [0.0612, 0.07, 0.0583, 0.11],
            "holdout_n": [250, 110, 250, 250],
            "holdout_rate": [0.0825, 0.1, 0.0825, 0.092],
            "difference": [-0.0213, -0.03, -0.0242, 0.018],
            "ci_low": [-0.0351, -0.094, -0.0601, -0.0241],
            "ci_high": [-0.0072, 0.0191, 0.0049, 0.0563],
            "p_value": [0.0012345, 0.31, 0.09, 0.41],
            "test": ["newcombe_score"] * 4,
            "primary": [True, False, False, False],
            "p_value_adjusted": [0.0012345, 0.62, 0.0012345, 0.62],
        }
    )
    calibration = pd.DataFrame(
        {
            "decile": np.arange(1, 11),
            "customers": [125] * 10,
            "mean_predicted": np.linspace(0.01, 0.28, 10),
            "realised_churn": [0.008, 0.02, 0.035, 0.04, 0.07, 0.08, 0.1, 0.15, 0.19, 0.3],
        }
    )
    share = np.linspace(0, 1, 11)
    return ProgrammeEvaluation(
        headline=headline,
        operations=operations,
        service=service,
        outcomes=outcomes,
        churn_by_tier=churn_by_tier,
        effects=effects,
        calibration=calibration,
        targeting=pd.DataFrame(
            {
                "targeting": ["risk", "uplift", "truth optimum"],
                "calls": [500, 500, 500],
                "retained_per_1000_calls": [21.4, 33.27, 41.0],
                "qini": [0.0123, 0.0456, math.nan],
            }
        )
        if targeting
        else None,
        qini_curves={
            "risk": (share, 20 * share - 8 * share * (1 - share)),
            "uplift": (share, 20 * share + 15 * share * (1 - share)),
        }
        if targeting
        else None,
        notes=["Simulated bank: the true effect is known.", "Holdout < 30% & fixed at launch."],
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict[str, Path]:
    return write_report(evaluation(), tmp_path_factory.mktemp("report"), "Spring <2024> review")


@pytest.fixture(scope="module")
def page(report):
    return render(report["report"])


def test_formats() -> None:
    assert pct(0.8567) == "85.7%"
    assert pp(-0.0213) == "-2.1 pp" and pp(0.018) == "+1.8 pp"
    assert ci(-0.0351, -0.0072) == "[-3.5, -0.7]"
    assert p_value(0.0012345) == "0.00123" and p_value(0.41) == "0.41"
    assert pct(math.nan) == pp(None) == ci(0.1, math.nan) == "n/a"
    rows = dict(headline_rows(evaluation().headline))
    assert rows["Churn effect, intention to treat [95% CI]"] == "-2.1 pp [-3.5, -0.7]"
    assert rows["Coverage (tasks contacted)"] == "85.7%"
    assert rows["Campaign tasks (both groups)"] == "1,234"
    assert not any("ci low" in label.lower() for label in rows)  # shown with the effect


def test_writes_every_file_atomically(report, tmp_path) -> None:
    folder = report["report"].parent
    expected = {"report", "figures", "operations", "service", "outcomes", "churn_by_tier"}
    expected |= {"effects", "calibration", "targeting"}
    assert set(report) == expected
    assert all(path.is_file() and path.parent == folder for path in report.values())
    assert not list(folder.glob("*.partial")) and not list(folder.glob(".*"))
    paths = write_report(evaluation(targeting=False), tmp_path, "No targeting")
    assert "targeting" not in paths and not (tmp_path / "targeting.csv").exists()
    html = paths["report"].read_text()
    assert "<h2>Targeting</h2>" not in html and html.count("<svg") == 2


def test_figures_json_and_csv_round_trip(report) -> None:
    figures = json.loads(report["figures"].read_text())
    source = evaluation()
    assert figures["headline"] == source.headline
    assert list(figures["headline"]) == list(source.headline)  # order kept
    assert figures["title"] == "Spring <2024> review"
    assert figures["operations"][1] == {
        "tier": SILVER,
        "channel": "phone",
        "tasks": 400,
        "contacted": 300,
        "coverage": 0.75,
        "within_sla": None,  # NaN
    }
    assert figures["churn_by_tier"][1]["target"] is None
    assert figures["targeting"][2]["qini"] is None
    assert figures["effects"][0]["ci_high"] == -0.0072
    assert figures["qini_curves"]["uplift"]["targeted_share"][-1] == 1.0
    for name, frame in source.tables().items():
        assert len(figures[name]) == len(frame)
        read = pd.read_csv(report[name])
        assert list(read.columns) == list(frame.columns)
        numbers = frame.select_dtypes("number").columns
        np.testing.assert_allclose(read[numbers].to_numpy(float), frame[numbers].to_numpy(float))
    assert pd.read_csv(report["operations"])["tier"][1] == SILVER


def test_html_is_self_contained_and_escaped(report) -> None:
    html = report["report"].read_text()
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower() and "src=" not in html
    assert set(re.findall(r'href="(.)', html)) <= {"#"}  # only the SVGs' own glyphs
    assert html.count("<svg") == 3  # forest, calibration, Qini
    assert "<b>" not in html and "Silver &lt;b&gt;plus&lt;/b&gt;" in html
    assert "<title>Spring &lt;2024&gt; review</title>" in html
    assert "Holdout &lt; 30% &amp; fixed at launch." in html


def test_missing_columns_are_refused(tmp_path) -> None:
    broken = evaluation()
    broken.effects = broken.effects.drop(columns="ci_low")
    with pytest.raises(ValueError, match="effects lacks the columns \\['ci_low'\\]"):
        write_report(broken, tmp_path, "x")


def test_report_as_chromium_shows_it(page) -> None:
    assert page.console_errors == []
    text = page.text
    assert "Spring <2024> review" in text
    for section in (*SECTIONS, "Targeting"):
        assert section in text
    assert "-2.1 pp [-3.5, -0.7]" in text  # the ITT churn effect with its interval
    assert "0.00123" in text  # its p-value
    assert "85.7%" in text  # coverage
    assert "Silver <b>plus</b>" in text  # the tier name, as text
    assert "Holdout < 30% & fixed at launch." in text
    assert "[-9.4, 1.9]" in text  # an interval from the effects table
    assert "33.3" in text  # retained per 1,000 calls, uplift targeting
    assert "n/a" in text  # the NaNs


# --- the harness itself ------------------------------------------------------------------


def _page(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "page.html"
    path.write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>")
    return path


def test_browser_clean_page_has_no_errors(tmp_path) -> None:
    page = render(_page(tmp_path, "<p>static</p><script>document.body.append('added')</script>"))
    assert page.console_errors == []
    assert "static" in page.text and "added" in page.text  # after the script ran


def test_browser_reports_a_script_that_throws(tmp_path) -> None:
    page = render(_page(tmp_path, "<p>x</p><script>throw new Error('boom in page')</script>"))
    assert len(page.console_errors) == 1
    assert "Uncaught" in page.console_errors[0] or "boom in page" in page.console_errors[0]
    assert "boom in page" in page.console_errors[0]


def test_browser_reports_console_error_and_missing_image(tmp_path) -> None:
    page = render(
        _page(tmp_path, '<img src="missing.png" alt="m"><script>console.error("bad")</script>')
    )
    assert any("missing.png" in error for error in page.console_errors)
    assert any("bad" in error for error in page.console_errors)


def test_links_to_related_reports_are_shown_and_escaped(tmp_path) -> None:
    linked = replace(evaluation(), links={"Service <standards>": "../service-report/report.html"})
    html = write_report(linked, tmp_path, "Linked")["report"].read_text()
    assert '<a href="../service-report/report.html">Service &lt;standards&gt;</a>' in html
