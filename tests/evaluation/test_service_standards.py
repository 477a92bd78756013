"""The plans' service standards against hand computations, and `retain report service` on
a small synthetic bank, rendered in Chromium."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from browser import render

from common.config import ProgrammeConfig, TierPolicy, TierRules
from evaluation.service_standards import (
    callback_coverage,
    complaint_handling,
    contact_cadence,
    satisfaction_by_tier,
    tier_migrations,
    tier_rule,
)

AS_OF = pd.Timestamp("2025-01-01")
TARGETS = ProgrammeConfig()


def missed(met) -> bool:
    """A standard measured and not met (None: not measurable)."""
    return met is not None and not bool(met)


def at(hours: float) -> pd.Timestamp:
    return pd.Timestamp("2024-12-01") + pd.Timedelta(hours=hours)


def test_complaint_handling_against_the_three_standards():
    complaints = pd.DataFrame(
        {
            "ts": [at(0), at(0), at(0), at(0)],
            "severity": [3, 3, 1, 2],
            # 2 h, 6 h, 10 h, and one still open at AS_OF (744 h so far).
            "resolved_at": [at(2), at(6), at(10), pd.NaT],
            "responded_at": [at(1), at(30), at(5), at(20)],
        }
    )
    table = complaint_handling(complaints, AS_OF, TARGETS).set_index("measure")
    answered = table.loc["answered within 24 h"]
    assert answered["value"] == pytest.approx(3 / 4) and missed(answered["met"])
    handling = table.loc["mean handling time, hours (open ones: so far)"]
    assert handling["value"] == pytest.approx((2 + 6 + 10 + 744) / 4)
    assert handling["unit"] == "hours" and missed(handling["met"])
    major = table.loc["major complaints resolved within 4 h"]
    assert (major["complaints"], major["value"]) == (2, 0.5)


def test_a_missing_field_is_named_not_guessed():
    complaints = pd.DataFrame(
        {"ts": [at(0)], "severity": [1], "resolved_at": [at(3)]}  # no responded_at
    )
    table = complaint_handling(complaints, AS_OF, TARGETS).set_index("measure")
    answered = table.loc["answered within 24 h"]
    assert answered["met"] is None and pd.isna(answered["value"])
    assert "interactions.responded_at missing" in answered["note"]
    assert table.loc["mean handling time, hours (open ones: so far)", "met"]  # 3 h ≤ 12 h
    assert table.loc["major complaints resolved within 4 h", "met"] is None  # none major


def test_callback_coverage_and_timeliness_by_tier_and_channel():
    due = pd.Timestamp("2024-12-05")
    tasks = pd.DataFrame(
        {
            "task_id": ["a", "b", "c", "d"],
            "tier": ["core", "core", "core", "general"],
            "channel": ["phone"] * 4,
            "due_at": [due] * 4,
            "contacted_at": [due - pd.Timedelta(days=1), due + pd.Timedelta(days=1), pd.NaT, due],
        }
    )
    table = callback_coverage(tasks, 0.95).set_index("tier")
    assert table.loc["core", "coverage"] == pytest.approx(2 / 3)
    assert table.loc["core", "within_sla"] == pytest.approx(1 / 3)
    assert not table.loc["core", "met"] and table.loc["general", "met"]


def test_contact_cadence_counts_callbacks_that_reached_the_customer():
    policies = {
        "core": TierPolicy(churn_threshold=0.1, assignee="relationship_manager", due_hours=24,
                           contacts_per_year=2),
        "general": TierPolicy(churn_threshold=0.2, assignee="preferred", due_hours=120),
    }  # fmt: skip
    tiers = pd.DataFrame({"customer_id": ["x", "y", "z", "w"], "tier": ["core"] * 3 + ["general"]})
    callbacks = pd.DataFrame(
        {
            "customer_id": ["x", "x", "y", "y", "z"],
            "outcome": ["reached", "accepted", "reached", "not_reached", "reached"],
        }
    )
    table = contact_cadence(callbacks, tiers, policies, 0.95)
    assert table["tier"].tolist() == ["core"]  # general promises no contacts
    row = table.iloc[0]
    assert (row["customers"], row["contacted_enough"]) == (3, 1)  # only x: y's second failed
    assert row["share"] == pytest.approx(1 / 3) and missed(row["met"])


def test_satisfaction_by_tier_and_overall_against_the_targets():
    tiers = pd.DataFrame({"customer_id": ["x", "y", "z"], "tier": ["core", "core", "general"]})
    answers = pd.DataFrame(
        {"customer_id": ["x", "x", "y", "z", "z"], "satisfaction": [5, 4, 3, 4, None]}
    )
    table = satisfaction_by_tier(answers, tiers, TARGETS).set_index("tier")
    assert table.loc["core", "satisfied"] == pytest.approx(2 / 3)
    assert missed(table.loc["core", "met"])  # target 90 %
    assert table.loc["general", "met"] is None  # no target set
    assert table.loc["overall", "answers"] == 4
    assert table.loc["overall", "satisfied"] == pytest.approx(3 / 4)


def test_tier_migrations_with_the_rule_behind_each_move():
    rules = TierRules()
    before = pd.DataFrame({"customer_id": ["x", "y", "z"], "tier": ["core", "general", "new"]})
    after = pd.DataFrame(
        {
            "customer_id": ["x", "y", "z"],
            "tier": ["important", "important", "new"],
            "assets_latest": [85_000.0, 1_000.0, 0.0],
            "txn_count_90d": [10.0, 75.0, 3.0],
            "tenure_days": [3000.0, 900.0, 40.0],
        }
    )
    counts, moved = tier_migrations(before, after, rules)
    assert counts.set_index(["from", "to"])["customers"].to_dict() == {
        ("core", "important"): 1,
        ("general", "important"): 1,
        ("new", "new"): 1,
    }
    rules_by_id = moved.set_index("customer_id")["rule"]
    assert rules_by_id["x"] == "assets 85,000 ≥ 20,000"
    assert rules_by_id["y"] == "75 transactions in 90 days ≥ 60"
    assert "z" not in rules_by_id
    assert tier_rule({"tier": "general", "assets_latest": None, "txn_count_90d": 5}, rules) == (
        "assets 0 < 20,000 and 5 transactions in 90 days < 60"
    )


@pytest.mark.slow
def test_report_service_command_writes_and_renders(small_synthetic_bank, tmp_path):
    from test_cli import retain

    settings = tmp_path / "retain.toml"
    settings.write_text(f'output_dir = "{tmp_path / "outputs"}"\n')
    out = tmp_path / "service"
    result = retain(
        "--config", str(settings), "report", "service",
        "--data", str(small_synthetic_bank), "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Complaint handling" in result.stdout and "Contact cadence" in result.stdout
    figures = json.loads((out / "figures.json").read_text())
    assert {"complaints", "cadence", "satisfaction", "migrations", "moved"} <= set(figures)
    assert any("not measurable" in note for note in figures["notes"])  # no campaign given
    assert sum(row["customers"] for row in figures["migrations"]) > 100  # a quarter apart
    page = render(out / "report.html")
    assert page.console_errors == []
    for heading in ("Complaint handling", "Contact cadence by tier", "Tier migrations"):
        assert heading in page.text
    handling = figures["complaints"][1]["value"]
    assert f"{handling:.1f}" in page.text
    missing = retain("--config", str(settings), "report", "service", "--data", str(tmp_path / "x"))
    assert missing.returncode != 0 and "Traceback" not in missing.stderr


def test_fields_a_bank_does_not_provide_are_named_not_measurable(tmp_path):
    from banks import tiny_bank_frames, write_bank
    from test_cli import retain

    frames = tiny_bank_frames()
    frames["interactions"] = frames["interactions"].drop(columns=["severity", "satisfaction"])
    bank = write_bank(frames, tmp_path / "bank")
    settings = tmp_path / "retain.toml"
    settings.write_text(f'output_dir = "{tmp_path / "outputs"}"\n')
    result = retain(
        "--config", str(settings), "report", "service",
        "--data", str(bank), "--out", str(tmp_path / "service"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    notes = json.loads((tmp_path / "service" / "figures.json").read_text())["notes"]
    for field in ("responded_at", "severity", "satisfaction"):
        assert any(f"field interactions.{field} missing" in note for note in notes), field
