"""`retain demo campaign` end to end on the synthetic bank: the issue's "done when".

Two cycles at the demo's default size (20,000 customers): the effect file has every key,
the true effect lies inside the interval, uplift targeting keeps more customers per 1,000
calls than risk targeting (counted from the truth), and both reports open in Chromium
without errors and show the figures.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from browser import render

from common.config import RetainConfig
from common.names import OWED, OWED_GROUP
from retain.campaign_demo import run_campaign_demo
from retain.campaign_figures import EFFECT_KEYS

pytestmark = pytest.mark.slow


def demo_settings(out: Path, folder: Path) -> Path:
    """A configuration file pointing the CLI at the demo's bank, outputs and registry."""
    settings = folder / "retain.toml"
    settings.write_text(
        f'data_dir = "{out / "bank"}"\noutput_dir = "{out / "outputs"}"\n'
        f'[training]\ntracking_uri = "sqlite:///{out / "mlruns" / "mlflow.db"}"\n'
    )
    return settings


def with_campaigns(settings: Path, command: list[str], *folders: str):
    """`retain --config SETTINGS COMMAND --campaign-dir F ...` for each folder given."""
    from test_cli import retain

    dirs = [part for folder in folders for part in ("--campaign-dir", folder)]
    return retain("--config", str(settings), *command, *dirs)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("campaign-demo")
    effect = run_campaign_demo(RetainConfig(), out)
    return out, effect


def test_effect_file_has_every_key_and_matches_the_run(demo):
    out, effect = demo
    written = json.loads((out / "effect.json").read_text())
    assert written == effect
    for key in EFFECT_KEYS:
        assert isinstance(written[key], float), key


def test_true_effect_lies_inside_the_interval(demo):
    _, effect = demo
    assert effect["itt_ci_low"] <= effect["true_itt_churn_effect"] <= effect["itt_ci_high"]
    assert effect["itt_ci_low"] < effect["itt_churn_effect"] < effect["itt_ci_high"]
    assert 0 <= effect["itt_p_value"] <= 1


def test_uplift_targeting_keeps_more_customers_per_call_than_risk(demo):
    _, effect = demo
    assert effect["retained_per_1000_calls_uplift"] > effect["retained_per_1000_calls_risk"]
    # The truth's own ranking is the limit neither can pass.
    optimum = effect["retained_per_1000_calls_optimum"]
    assert optimum >= effect["retained_per_1000_calls_uplift"]
    assert effect["calls_compared"] > 100


def test_coverage_and_cycle_settings(demo):
    out, effect = demo
    assert 0.9 <= effect["coverage"] <= 1.0
    tasks_1 = pd.read_parquet(out / "cycle-1" / "tasks.parquet")
    tasks_2 = pd.read_parquet(out / "cycle-2" / "tasks.parquet")
    # Test and learn: half held out, owed calls never; cycle 2 targeted by uplift.
    owed = tasks_1["action"].isin(OWED)
    assert (tasks_1.loc[owed, "group"] == OWED_GROUP).all()
    assert abs((tasks_1.loc[~owed, "group"] == "holdout").mean() - 0.5) < 0.03
    assert set(tasks_1["targeting"]) == {"risk"}
    assert set(tasks_2["targeting"]) == {"uplift"}
    callbacks = tasks_2[tasks_2["action"] == "retention_callback"]
    targeted = callbacks[~callbacks["exploration"]]
    assert (targeted["uplift"] >= 0.005).all()
    assert (targeted["uplift"] * targeted["customer_value"] >= 25.0).all()  # pays for the call
    # The exploration slice: drawn at random, its probability recorded, about 15 % of the
    # retention calls made.
    explored = callbacks[callbacks["exploration"]]
    assert len(explored) > 0 and (explored["assignment_probability"] < 1).all()
    made = callbacks[callbacks["status"] == "scheduled"]
    assert 0.08 <= made["exploration"].mean() <= 0.25
    assert [row["cycle"] for row in effect["cycles"]] == [2]


def test_contacts_went_through_the_contract(demo):
    out, _ = demo
    contacts = pd.read_parquet(out / "outputs" / "outcomes" / "campaign_contacts.parquet")
    assert set(contacts["campaign_id"]) == {"cycle-1", "cycle-2"}
    held_out = contacts[contacts["group"] == "holdout"]
    assert held_out["contacted_at"].isna().all()


@pytest.mark.parametrize("cycle", ["cycle-1", "cycle-2"])
def test_report_renders_with_the_figures(demo, cycle):
    out, effect = demo
    page = render(out / cycle / "report.html")
    assert page.console_errors == []
    for heading in ("Key figures", "Operations", "Effect of the campaign", "Model health"):
        assert heading in page.text
    assert "See also: Service standards, every cycle" in page.text
    figures = json.loads((out / cycle / "figures.json").read_text())
    coverage = figures["headline"]["coverage"]
    assert f"{coverage:.1%}" in page.text
    if cycle == "cycle-1":
        assert coverage == pytest.approx(effect["coverage"])
    else:
        assert "Targeting" in page.text and "truth optimum" in page.text


def test_evaluate_command_reproduces_the_cycle_report(demo, tmp_path):
    from test_cli import retain

    out, effect = demo
    settings = demo_settings(out, tmp_path)
    result = retain(
        "--config", str(settings), "evaluate", "campaign",
        "--campaign-dir", str(out / "cycle-1"), "--out", str(tmp_path / "report"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Churn effect, intention to treat" in result.stdout
    figures = json.loads((tmp_path / "report" / "figures.json").read_text())
    assert figures["headline"]["itt_churn_effect"] == pytest.approx(effect["itt_churn_effect"])
    assert (tmp_path / "report" / "report.html").exists()

    missing = retain(
        "--config", str(settings), "evaluate", "campaign",
        "--campaign-dir", str(tmp_path / "nowhere"),
    )  # fmt: skip
    assert missing.returncode != 0
    assert "no tasks.parquet" in missing.stderr and "Traceback" not in missing.stderr


def test_train_uplift_pools_campaigns_refuses_one_twice_and_promote_values_on_them(demo, tmp_path):
    """Pooled on both cycles, the challenger is compared with the champion trained on
    cycle 1 by the doubly-robust estimate on the customers neither was fitted on; the
    decision and its figures are recorded on the versions."""
    from mlflow import MlflowClient

    from common.names import UPLIFT_MODEL
    from training import tracking

    out, _ = demo
    settings = demo_settings(out, tmp_path)
    first, second = str(out / "cycle-1"), str(out / "cycle-2")
    pooled = with_campaigns(settings, ["train", "uplift"], second, first)
    assert pooled.returncode == 0, pooled.stderr
    assert "fitted on 2 campaign(s) pooled: cycle-1, cycle-2" in pooled.stdout  # in time order
    assert re.search(r"retain-uplift-churn v\d+ \(challenger\)", pooled.stdout)
    assert "uplift model" in pooled.stdout and "churn risk" in pooled.stdout
    twice = with_campaigns(settings, ["train", "uplift"], first, first)
    assert twice.returncode != 0 and "the same campaign given twice" in twice.stderr
    assert "Traceback" not in twice.stderr
    without = with_campaigns(settings, ["promote", UPLIFT_MODEL])
    assert without.returncode != 0 and "--campaign-dir" in without.stderr
    assert "Traceback" not in without.stderr
    promoted = with_campaigns(settings, ["promote", UPLIFT_MODEL], first, second)
    assert promoted.returncode == 0, promoted.stderr
    assert "customers per 1,000 calls" in promoted.stdout
    assert "doubly-robust estimate" in promoted.stdout and "cycle-1, cycle-2" in promoted.stdout
    tracking.use_tracking(f"sqlite:///{out / 'mlruns' / 'mlflow.db'}", "retain")
    client = MlflowClient()
    challenger = client.get_model_version_by_alias(UPLIFT_MODEL, "challenger")
    champion = client.get_model_version_by_alias(UPLIFT_MODEL, "champion")
    assert "doubly-robust" in challenger.tags["last_promotion_check"]
    assert (champion.version == challenger.version) == ("promoted" in promoted.stdout.lower())


def test_the_demo_never_clears_a_folder_it_did_not_make(tmp_path):
    from common.errors import ConfigError

    (tmp_path / "mlruns").mkdir()
    (tmp_path / "mlruns" / "mlflow.db").write_text("the bank's registry")
    with pytest.raises(ConfigError, match="other contents"):
        run_campaign_demo(RetainConfig(), tmp_path)
    assert (tmp_path / "mlruns" / "mlflow.db").read_text() == "the bank's registry"
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(ConfigError, match="is a file"):
        run_campaign_demo(RetainConfig(), afile)


def test_the_demo_ends_with_the_service_report_over_both_cycles(demo):
    out, _ = demo
    figures = json.loads((out / "service-report" / "figures.json").read_text())
    coverage = pd.DataFrame(figures["coverage"])
    assert len(coverage) > 0 and coverage["tasks"].sum() > 1000  # both cycles' calls
    assert {"core", "important"} <= {row["tier"] for row in figures["cadence"]}
    assert (out / "service-report" / "report.html").exists()
