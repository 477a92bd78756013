"""Programme evaluation on a hand-made campaign whose every figure can be counted by hand.

The campaign: 400 treatment and 100 holdout retention tasks. 360 treatment tasks were
contacted (coverage 90 %), 300 of them within the SLA; 234 customers were reached. Ten
treatment customers have no observable outcome. Of the 390 known treatment customers 39
churned (10 %), of the 100 held out 20 (20 %): an ITT effect of −10 pp, and −10 / 0.6 pp on
the reached (234 of the 390 known were reached). 500 more customers were scored but not
listed.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from common.config import load_config
from common.errors import DataError, RetainError
from evaluation.campaign_effect import rate_difference
from evaluation.programme import evaluate_campaign, join_campaign, true_itt_effect
from evaluation.programme_report import write_report
from evaluation.programme_result import ProgrammeEvaluation
from evaluation.programme_tables import annualised, calibration_by_decile, churn_by_tier
from features.schema import CAMPAIGN_CONTACTS
from serving.batch import TASK_COLUMNS
from serving.outbox import task_id

CAMPAIGN = "spring-2024"
ASSIGNED = pd.Timestamp("2024-06-03")
TREATED_N, HOLDOUT_N, OTHERS_N = 400, 100, 500
CONTACTED, ON_TIME, REACHED, UNKNOWN = 360, 300, 234, 10
REACHED_OUTCOMES = ("reached", "declined", "accepted_offer", "issue_resolved")


def make_campaign(contacted: int = CONTACTED) -> dict[str, pd.DataFrame]:
    treated = [f"T{i:03d}" for i in range(TREATED_N)]
    held = [f"H{i:03d}" for i in range(HOLDOUT_N)]
    customers = treated + held
    n = len(customers)
    action = np.full(n, "retention_callback", dtype=object)
    action[295:305] = "complaint_follow_up"  # 5 contacted within 7 days, 5 after 10 days
    tasks = pd.DataFrame(
        {
            "campaign_id": CAMPAIGN,
            "task_id": [task_id(CAMPAIGN, c, a) for c, a in zip(customers, action, strict=True)],
            "customer_id": customers,
            "group": ["treatment"] * TREATED_N + ["holdout"] * HOLDOUT_N,
            "status": ["scheduled"] * TREATED_N + ["holdout: not contacted"] * HOLDOUT_N,
            "action": action,
            "product_id": "",
            "priority": 2,
            "expected_value": 100.0,
            "churn_probability": 0.9,
            "uplift": np.nan,
            "risk_band": np.where(np.arange(n) % 2 == 0, "high", "very high"),
            "tier": np.where(np.arange(n) % 4 == 0, "core", "general"),
            "customer_value": 1000.0,
            "channel": "phone",
            "queue": "phone",
            "assignee": "call_centre",
            "assigned_at": ASSIGNED,
            "event_at": pd.NaT,
            "due_at": ASSIGNED + pd.Timedelta(days=3),
            "scheduled_for": ASSIGNED,
            "sla_at_risk": False,
            "targeting": "risk",
            "versions": json.dumps({"retain-churn": "1", "retain-xsell": "1"}),
            "exploration": False,
            "assignment_probability": 1.0,
        }
    )[TASK_COLUMNS]

    # The CRM: a row for every task; treatment T000..T{contacted-1} were contacted.
    delay = np.where(np.arange(n) < ON_TIME, 1, 10)
    was_contacted = (np.arange(n) < contacted) & (tasks["group"] == "treatment").to_numpy()
    outcome = np.where(np.arange(n) < REACHED, "reached", "not_reached").astype(object)
    outcome[:REACHED] = np.resize(REACHED_OUTCOMES, REACHED)  # every kind counts as reached
    contacts = pd.DataFrame(
        {
            "campaign_id": CAMPAIGN,
            "task_id": tasks["task_id"],
            "customer_id": customers,
            "group": tasks["group"],
            "action": action,
            "product_id": None,
            "assigned_at": ASSIGNED,
            "due_at": tasks["due_at"],
            "contacted_at": pd.Series(ASSIGNED + pd.to_timedelta(delay, unit="D")).where(
                was_contacted
            ),
            "channel": np.where(was_contacted, "phone", None),
            "outcome": np.where(was_contacted, outcome, None),
            "satisfaction": np.where(was_contacted & (np.arange(n) < REACHED), 4.0, np.nan),
            "notes": None,
        }
    )

    others = [f"N{i:03d}" for i in range(OTHERS_N)]
    everyone = customers + others
    index = np.arange(len(everyone))
    churned = np.concatenate(
        [
            (np.arange(TREATED_N) % 10 == 0).astype(float),  # 39 of the 390 known
            (np.arange(HOLDOUT_N) % 5 == 0).astype(float),  # 20 of 100
            (np.arange(OTHERS_N) % 20 == 0).astype(float),
        ]
    )
    churned[TREATED_N - UNKNOWN : TREATED_N] = np.nan
    churned[-10:] = np.nan
    outcomes = pd.DataFrame(
        {
            "customer_id": everyone,
            "churned": churned,
            "repurchased": np.where(np.isnan(churned), np.nan, (index % 4 == 1).astype(float)),
            "satisfaction_before": 3.0,
        }
    )
    other_tier = np.resize(["churned", "core", "important", "general"], OTHERS_N)
    scores = pd.DataFrame(
        {
            "campaign_id": CAMPAIGN,
            "customer_id": everyone,
            "group": list(tasks["group"]) + [None] * OTHERS_N,
            "action": list(action) + ["none"] * OTHERS_N,
            # The treated have a probability nobody else has: calibration must not see it.
            "churn_probability": np.concatenate(
                [
                    np.full(TREATED_N, 0.9),
                    np.linspace(0.05, 0.5, HOLDOUT_N),
                    np.linspace(0.01, 0.4, OTHERS_N),
                ]
            ),
            "uplift": np.nan,
            "risk_band": "high",
            "tier": np.concatenate([tasks["tier"].to_numpy(), other_tier]),
            "customer_value": 1000.0,
        }
    )
    truth = pd.DataFrame(
        {
            "customer_id": everyone,
            "p_churn_90d": 0.2,
            "p_churn_90d_if_called": np.where(index < TREATED_N, 0.1, 0.15),
        }
    )
    return {
        "tasks": tasks,
        "scores": scores,
        "contacts": contacts,
        "outcomes": outcomes,
        "truth": truth,
    }


@pytest.fixture(scope="module")
def campaign():
    return make_campaign()


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.fixture(scope="module")
def joined(campaign):
    return join_campaign(
        CAMPAIGN,
        campaign["tasks"],
        campaign["scores"],
        campaign["contacts"],
        campaign["outcomes"],
    )


@pytest.fixture(scope="module")
def evaluation(joined, config, campaign):
    return evaluate_campaign(joined, config, truth=campaign["truth"])


def test_join_keeps_every_task_with_its_contact_and_outcome(joined):
    assert joined.campaign_id == CAMPAIGN
    assert joined.as_of == ASSIGNED
    tasks = joined.tasks
    assert len(tasks) == TREATED_N + HOLDOUT_N
    assert tasks["contacted_at"].notna().sum() == CONTACTED
    assert {"contact_channel", "outcome", "satisfaction", "churned", "repurchased"} <= set(tasks)
    assert len(joined.population) == TREATED_N + HOLDOUT_N + OTHERS_N


def test_operations_coverage_and_sla(evaluation):
    headline = evaluation.headline
    assert headline["tasks"] == TREATED_N + HOLDOUT_N
    assert (headline["treatment"], headline["holdout"]) == (TREATED_N, HOLDOUT_N)
    assert headline["coverage"] == pytest.approx(CONTACTED / TREATED_N)
    assert headline["within_sla"] == pytest.approx(ON_TIME / CONTACTED)
    assert headline["reached"] == pytest.approx(REACHED / TREATED_N)
    assert headline["targeting"] == "risk"
    operations = evaluation.operations
    assert operations["tasks"].sum() == TREATED_N
    assert operations["contacted"].sum() == CONTACTED
    service = evaluation.service.set_index("measure")
    follow_ups = service.loc["complaint follow-ups within 7 days of resolution"]
    assert (follow_ups["eligible"], follow_ups["within_7_days"]) == (10, 5)
    assert follow_ups["share"] == pytest.approx(0.5)
    assert service.loc["welcome calls within 7 days of opening", "eligible"] == 0


def test_itt_effect_is_treated_minus_holdout_with_the_newcombe_interval(evaluation):
    headline = evaluation.headline
    expected = rate_difference(
        (np.arange(TREATED_N - UNKNOWN) % 10 == 0), (np.arange(HOLDOUT_N) % 5 == 0)
    )
    assert headline["treatment_churn_rate"] == pytest.approx(0.1)
    assert headline["holdout_churn_rate"] == pytest.approx(0.2)
    assert headline["itt_churn_effect"] == pytest.approx(-0.1)
    assert headline["itt_ci_low"] == pytest.approx(expected.ci_low)
    assert headline["itt_ci_high"] == pytest.approx(expected.ci_high)
    assert headline["itt_p_value"] == pytest.approx(expected.p_value)
    assert headline["itt_ci_low"] < -0.1 < headline["itt_ci_high"]
    # Reached among the known treatment customers: 234 of 390.
    share = REACHED / (TREATED_N - UNKNOWN)
    assert headline["contacted_churn_effect"] == pytest.approx(-0.1 / share)
    effects = evaluation.effects
    churn = effects[(effects["outcome"] == "churn") & (effects["segment"] == "all")]
    itt = churn[churn["estimand"] == "intention to treat"].iloc[0]
    contacted = churn[churn["estimand"] == "contacted vs holdout"].iloc[0]
    assert (itt["treated_n"], itt["holdout_n"]) == (TREATED_N - UNKNOWN, HOLDOUT_N)
    assert itt["difference"] == pytest.approx(-0.1)
    assert contacted["difference"] == pytest.approx(-0.1 / share)
    # The interval carries the reach share's uncertainty (`effect_on_reached`), the same
    # in the headline and the effects table.
    assert contacted["ci_low"] < -0.1 / share < contacted["ci_high"]
    assert headline["contacted_ci_low"] == pytest.approx(contacted["ci_low"])
    assert headline["contacted_ci_high"] == pytest.approx(contacted["ci_high"])
    assert set(effects.loc[effects["segment"] == "tier", "value"]) == {"core", "general"}


def test_true_itt_effect_counts_only_the_reached_as_called(evaluation, joined, campaign):
    # Reached treatment customers: 0.1 instead of 0.2; the others keep 0.2.
    share = REACHED / (TREATED_N - UNKNOWN)
    assert evaluation.headline["true_itt_churn_effect"] == pytest.approx(-0.1 * share)
    tasks = joined.tasks.assign(reached=joined.tasks["outcome"].isin(REACHED_OUTCOMES))
    known = tasks[tasks["churned"].notna()]
    assert true_itt_effect(known, campaign["truth"]) == pytest.approx(-0.1 * share)
    # The holdout never enters: changing its truth changes nothing.
    truth = campaign["truth"].copy()
    truth.loc[truth["customer_id"].str.startswith("H"), "p_churn_90d_if_called"] = 0.0
    assert true_itt_effect(known, truth) == pytest.approx(-0.1 * share)


def test_no_truth_no_true_effect(joined, config):
    assert "true_itt_churn_effect" not in evaluate_campaign(joined, config).headline


def test_annualised_churn_compounds_the_horizon():
    assert annualised(0.1, 90) == pytest.approx(1 - 0.9 ** (365.25 / 90))
    assert annualised(0.0, 90) == 0.0
    rates = pd.Series([0.02, 0.005])
    np.testing.assert_allclose(annualised(rates, 90), 1 - (1 - rates) ** (365.25 / 90))


def test_churn_by_tier_against_the_plans_targets():
    population = pd.DataFrame(
        {
            "tier": ["core"] * 100 + ["important"] * 200 + ["general"] * 100 + ["churned"] * 50,
            "churned": np.concatenate(
                [
                    np.arange(100) < 2,  # 2 %, then one of them unknown
                    np.arange(200) < 1,  # 0.5 %
                    np.arange(100) < 10,  # 10 %
                    np.ones(50),  # the churned tier is not counted
                ]
            ).astype(float),
        }
    )
    population.loc[[0, 1, 2], "churned"] = [1.0, np.nan, np.nan]  # unknown: not counted
    table = churn_by_tier(population, 90, {"core": 0.03, "important": 0.05, "overall": 0.04})
    table = table.set_index("tier")
    assert list(table.index) == ["core", "general", "important", "overall"]
    assert table.loc["core", "customers"] == 98
    assert table.loc["core", "churn_rate_horizon"] == pytest.approx(1 / 98)
    assert table.loc["important", "churn_rate_horizon"] == pytest.approx(0.005)
    expected = {
        tier: float(annualised(table.loc[tier, "churn_rate_horizon"], 90)) for tier in table.index
    }
    np.testing.assert_allclose(table["annualised_churn"], pd.Series(expected)[table.index])
    assert table.loc["core", "meets_target"] is False  # 1 - (1 - 1/98)^4.06 ≈ 4.0 % > 3 %
    assert table.loc["important", "meets_target"] is True  # ≈ 2.0 % <= 5 %
    assert table.loc["general", "meets_target"] is None and np.isnan(table.loc["general", "target"])
    overall = table.loc["overall"]
    assert overall["customers"] == 398
    assert overall["churn_rate_horizon"] == pytest.approx(12 / 398)
    assert overall["target"] == 0.04
    assert overall["annualised_churn"] == pytest.approx(1 - (1 - 12 / 398) ** (365.25 / 90))
    assert overall["meets_target"] is False  # ≈ 11.7 % > 4 %


def test_campaign_churn_by_tier_uses_every_customer_scored_and_the_config_targets(
    evaluation, joined, config
):
    table = evaluation.churn_by_tier.set_index("tier")
    population = joined.population
    counted = population[population["churned"].notna() & (population["tier"] != "churned")]
    overall = table.loc["overall"]
    assert overall["customers"] == len(counted)
    assert overall["churn_rate_horizon"] == pytest.approx(counted["churned"].mean())
    horizon = config.features.horizon_days
    assert overall["annualised_churn"] == pytest.approx(
        1 - (1 - counted["churned"].mean()) ** (365.25 / horizon)
    )
    assert overall["target"] == config.programme.churn_targets["overall"]
    assert "churned" not in table.index


def test_calibration_deciles_leave_out_the_treated(evaluation, joined):
    calibration = evaluation.calibration
    population = joined.population
    untreated = population["churned"].notna() & ~population["customer_id"].str.startswith("T")
    assert list(calibration["decile"]) == list(range(1, 11))
    assert calibration["customers"].sum() == untreated.sum()
    # The treated alone have 0.9; no decile mean gets near it.
    assert calibration["mean_predicted"].max() < 0.5
    assert calibration["mean_predicted"].is_monotonic_increasing
    direct = calibration_by_decile(population, joined.tasks)
    pd.testing.assert_frame_equal(direct, calibration)


def test_notes_flag_coverage_below_target_and_unknown_outcomes(evaluation, joined, config):
    assert config.programme.coverage_target == 0.95
    notes = " ".join(evaluation.notes)
    assert "Callback coverage 90.0% is below the plans' 95%" in notes
    assert f"{UNKNOWN} of {TREATED_N + HOLDOUT_N:,} listed customers have no observable" in notes
    covered = make_campaign(contacted=384)  # 96 %
    data = join_campaign(
        CAMPAIGN, covered["tasks"], covered["scores"], covered["contacts"], covered["outcomes"]
    )
    result = evaluate_campaign(data, config)
    assert result.headline["coverage"] == pytest.approx(0.96)
    assert not any("coverage" in note.lower() for note in result.notes)


def test_no_known_outcome_is_a_data_error(campaign):
    unknown = campaign["outcomes"].assign(churned=np.nan)
    with pytest.raises(DataError, match="no listed customer has a known outcome"):
        join_campaign(
            CAMPAIGN, campaign["tasks"], campaign["scores"], campaign["contacts"], unknown
        )
    with pytest.raises(DataError, match="no tasks"):
        join_campaign(
            CAMPAIGN,
            campaign["tasks"].head(0),
            campaign["scores"],
            campaign["contacts"],
            campaign["outcomes"],
        )


def test_report_files_carry_the_figures(evaluation, tmp_path):
    assert isinstance(evaluation, ProgrammeEvaluation)
    files = write_report(evaluation, tmp_path / "report", title=f"Campaign {CAMPAIGN}")
    assert files["report"] == tmp_path / "report" / "report.html"
    assert files["figures"] == tmp_path / "report" / "figures.json"
    figures = json.loads(files["figures"].read_text())
    assert figures["title"] == f"Campaign {CAMPAIGN}"
    assert figures["headline"]["coverage"] == pytest.approx(0.9)
    assert figures["headline"]["itt_churn_effect"] == pytest.approx(-0.1)
    assert figures["notes"] == evaluation.notes
    overall = [row for row in figures["churn_by_tier"] if row["tier"] == "overall"]
    assert len(overall) == 1
    assert len(figures["calibration"]) == 10
    page = files["report"].read_text()
    assert f"Campaign {CAMPAIGN}" in page and "below the plans" in page
    assert (tmp_path / "report" / "effects.csv").exists()


def test_before_the_crm_reports_nothing_was_contacted(campaign, config):
    empty = pd.DataFrame({name: [] for name in CAMPAIGN_CONTACTS.column_names})
    data = join_campaign(
        CAMPAIGN, campaign["tasks"], campaign["scores"], empty, campaign["outcomes"]
    )
    result = evaluate_campaign(data, config)
    assert result.headline["coverage"] == 0.0
    assert result.headline["itt_churn_effect"] == pytest.approx(-0.1)
    assert np.isnan(result.headline["contacted_churn_effect"])
    assert any("Callback coverage 0.0%" in note for note in result.notes)


def test_a_campaign_without_a_holdout_is_refused_or_reported_without_an_effect(campaign, config):
    tasks = campaign["tasks"][campaign["tasks"]["group"] == "treatment"]
    data = join_campaign(
        CAMPAIGN, tasks, campaign["scores"], campaign["contacts"], campaign["outcomes"]
    )
    try:
        result = evaluate_campaign(data, config)
    except RetainError:
        return  # refused with a message the CLI shows
    assert np.isnan(result.headline["itt_churn_effect"])


def test_satisfaction_as_loaded_nullable_integers_averages_per_group(campaign, config):
    """Regression: contacts come back from `retain outcomes load` with satisfaction as a
    nullable integer; the holdout, never called, has none, and its mean must be NaN."""
    contacts = campaign["contacts"].copy()
    contacts["satisfaction"] = contacts["satisfaction"].round().astype("Int64")
    data = join_campaign(
        "sim", campaign["tasks"], campaign["scores"], contacts, campaign["outcomes"]
    )
    outcomes = evaluate_campaign(data, config).outcomes.set_index("group")
    assert outcomes.at["treatment", "satisfaction_after"] == pytest.approx(4.0)
    assert np.isnan(outcomes.at["holdout", "satisfaction_after"])


def test_service_calls_are_measured_from_the_event_that_made_them_due(campaign, config):
    tasks = campaign["tasks"].copy()
    follow_ups = tasks["action"] == "complaint_follow_up"
    # Resolved 6 days before the campaign day: a call two days after assignment is late.
    tasks["event_at"] = pd.NaT
    tasks.loc[follow_ups, "event_at"] = tasks.loc[follow_ups, "assigned_at"] - pd.Timedelta(days=6)
    contacts = campaign["contacts"].copy()
    on_time = contacts["task_id"].isin(tasks.loc[follow_ups, "task_id"])
    contacts.loc[on_time, "contacted_at"] = pd.to_datetime(
        contacts.loc[on_time, "assigned_at"]
    ) + pd.Timedelta(days=2)
    data = join_campaign(CAMPAIGN, tasks, campaign["scores"], contacts, campaign["outcomes"])
    service = evaluate_campaign(data, config).service.set_index("measure")
    row = service.loc["complaint follow-ups within 7 days of resolution"]
    assert row["eligible"] == follow_ups[tasks["group"] == "treatment"].sum()
    assert row["within_7_days"] == 0


def test_contacted_effect_subtracts_holdout_customers_the_crm_reached(campaign, config):
    """Bloom's estimator with a holdout the CRM contacted anyway: the denominator is the
    difference in the share reached."""
    contacts = campaign["contacts"].copy()
    tasks = campaign["tasks"]
    held = tasks.loc[tasks["group"] == "holdout", "task_id"].head(10)
    rows = contacts["task_id"].isin(held)
    contacts.loc[rows, "outcome"] = "reached"
    contacts.loc[rows, "contacted_at"] = pd.to_datetime(contacts.loc[rows, "assigned_at"])
    data = join_campaign(CAMPAIGN, tasks, campaign["scores"], contacts, campaign["outcomes"])
    headline = evaluate_campaign(data, config).headline
    known = data.tasks[data.tasks["churned"].notna()]
    reached = known["outcome"].isin(["reached", "declined", "accepted_offer", "issue_resolved"])
    share = (
        reached[known["group"] == "treatment"].mean() - reached[known["group"] == "holdout"].mean()
    )
    assert reached[known["group"] == "holdout"].sum() > 0
    assert headline["contacted_churn_effect"] == pytest.approx(headline["itt_churn_effect"] / share)


def test_calibration_of_a_tiny_campaign_has_as_many_bins_as_customers():
    population = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "churn_probability": [0.1, 0.5, 0.9],
            "churned": [0.0, 1.0, 1.0],
        }
    )
    tasks = pd.DataFrame({"customer_id": [], "group": []})
    table = calibration_by_decile(population, tasks)
    assert table["decile"].tolist() == [1, 2, 3]
    assert table["realised_churn"].tolist() == [0.0, 1.0, 1.0]
