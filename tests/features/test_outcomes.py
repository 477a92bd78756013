"""Campaign contacts from the CRM: the simulated call centre's export, loading it with the
contract's rules (quarantine with reasons, merge by task), and `retain outcomes load`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_cli import retain

from common.config import DataConfig, FeaturesConfig
from common.errors import DataError
from features import engine
from features.outcomes import load_contacts, outcomes_file, read_contacts
from features.schema import CAMPAIGN_CONTACTS, CONTACT_CHANNELS, CONTACT_GROUPS, CONTACT_OUTCOMES
from features.validation import load_bank
from serving.batch import TASK_COLUMNS
from simulation.call_centre import reached_customers, simulate_contacts

AS_OF = pd.Timestamp("2024-01-02")  # a campaign scored after the extract (2023-12-31)
ACTIONS = ("retention_callback", "cross_sell_offer", "complaint_follow_up", "welcome_callback")
CHANNELS = ("phone", "email", "app", "in_person")
COLUMNS = list(CAMPAIGN_CONTACTS.column_names)


def make_tasks(n: int = 160, campaign_id: str = "cmp-1", first: int = 1) -> pd.DataFrame:
    """A campaign's tasks.parquet by hand: every fourth task held out, every fifth treated
    one over capacity, the rest scheduled over five days from the campaign day."""
    i = np.arange(n)
    group = np.where(i % 4 == 0, "holdout", "treatment")
    treated = group == "treatment"
    status = np.where(~treated, "holdout: not contacted", "scheduled")
    status[treated & (i % 5 == 0)] = "over_capacity"
    action = np.asarray(ACTIONS)[i % len(ACTIONS)]
    scheduled_for = [
        AS_OF + pd.Timedelta(days=int(k % 5)) if s == "scheduled" else pd.NaT
        for k, s in zip(i, status, strict=True)
    ]
    channel = np.asarray(CHANNELS, dtype=object)[i % len(CHANNELS)]
    channel[~treated] = None
    tasks = pd.DataFrame(
        {
            "campaign_id": campaign_id,
            "task_id": [f"{campaign_id}-T{k:04d}" for k in i],
            "customer_id": [f"C{first + k:07d}" for k in i],
            "group": group,
            "status": status,
            "action": action,
            "product_id": np.where(action == "cross_sell_offer", "P03", ""),
            "priority": np.where(action == "cross_sell_offer", 3, 1),
            "expected_value": 100.0 - i,
            "churn_probability": np.linspace(0.9, 0.1, n),
            "uplift": 0.05,
            "risk_band": "high",
            "tier": "core",
            "customer_value": 1000.0,
            "channel": channel,
            "queue": "call_centre",
            "assignee": "call_centre",
            "assigned_at": AS_OF,
            "event_at": pd.NaT,
            "due_at": AS_OF + pd.Timedelta(hours=72),
            "scheduled_for": pd.to_datetime(pd.Series(scheduled_for)),
            "sla_at_risk": False,
            "targeting": "risk",
            "versions": "{}",
            "exploration": False,
            "assignment_probability": 1.0,
        }
    )
    return tasks[TASK_COLUMNS]


def by_task(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in task order with comparable types: text as object, scores as floats."""
    frame = frame[COLUMNS].sort_values("task_id").reset_index(drop=True).copy()
    frame["satisfaction"] = frame["satisfaction"].astype("Float64").astype(float)
    for name in COLUMNS:
        if CAMPAIGN_CONTACTS.column(name).dtype == "string":
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
        elif CAMPAIGN_CONTACTS.column(name).dtype == "timestamp":
            frame[name] = pd.to_datetime(frame[name]).astype("datetime64[us]")
    return frame


# ------------------------------------------------------------------- the simulated CRM


def test_simulated_export_follows_the_contract_and_the_tasks():
    tasks = make_tasks()
    export = simulate_contacts(tasks, seed=3)
    assert list(export.columns) == COLUMNS
    assert len(export) == len(tasks)
    assert list(export["task_id"]) == list(tasks["task_id"])
    for name in ("campaign_id", "customer_id", "group", "action"):
        assert list(export[name]) == list(tasks[name]), name

    contacted = export["contacted_at"].notna()
    assert (contacted == export["outcome"].notna()).all()
    assert (contacted == export["channel"].notna()).all()
    assert (contacted == export["notes"].notna()).all()
    holdout = export["group"] == "holdout"
    assert holdout.sum() == 40 and not contacted[holdout].any()
    assert export.loc[holdout, ["outcome", "channel", "satisfaction"]].isna().all().all()
    assert (export.loc[contacted, "contacted_at"] >= export.loc[contacted, "assigned_at"]).all()

    assert set(export["group"]) <= set(CONTACT_GROUPS)
    assert set(export["outcome"].dropna()) <= set(CONTACT_OUTCOMES)
    assert set(export["channel"].dropna()) <= set(CONTACT_CHANNELS)
    reached = export["outcome"].notna() & (export["outcome"] != "not_reached")
    assert reached.sum() > 40 and (export["outcome"] == "not_reached").any()
    assert (export["satisfaction"].notna() == reached).all()
    assert export["satisfaction"].dropna().between(1, 5).all()
    # An offer is about its product; other actions carry none.
    offers = export["action"] == "cross_sell_offer"
    assert (export.loc[offers, "product_id"] == "P03").all()
    assert export.loc[~offers, "product_id"].isna().all()
    # Scheduled calls happen on the planned day or a few days late; most are attempted.
    scheduled = (tasks["status"] == "scheduled").to_numpy()
    assert contacted[scheduled].mean() > 0.85
    late = (
        export.loc[scheduled & contacted, "contacted_at"].dt.normalize()
        - tasks.loc[scheduled & contacted, "scheduled_for"]
    )
    assert late.between(pd.Timedelta(0), pd.Timedelta(days=3)).all()
    assert (late > pd.Timedelta(0)).any()
    assert (export.loc[contacted, "contacted_at"].dt.hour.between(9, 16)).all()


def test_same_seed_same_export_and_a_filtered_tasks_frame_works():
    tasks = make_tasks()
    first = simulate_contacts(tasks, seed=11)
    pd.testing.assert_frame_equal(first, simulate_contacts(tasks, seed=11))
    assert not first.equals(simulate_contacts(tasks, seed=12))
    # The tasks of one campaign cut from a bigger frame keep their index.
    mixed = pd.concat([make_tasks(20, "cmp-0", first=300), tasks], ignore_index=True)
    cut = mixed[mixed["campaign_id"] == "cmp-1"]
    pd.testing.assert_frame_equal(simulate_contacts(cut, seed=11), first)


def test_customers_a_call_annoys_give_lower_scores():
    tasks = make_tasks(400)
    kinds = np.where(np.arange(400) % 2 == 0, "sleeping_dog", "persuadable")
    responses = pd.Series(kinds, index=tasks["customer_id"])
    export = simulate_contacts(tasks, seed=5, responses=responses)
    score = export["satisfaction"].astype(float)
    dog = export["customer_id"].map(responses) == "sleeping_dog"
    assert score[dog].notna().sum() > 50 and score[~dog].notna().sum() > 50
    assert score[dog].mean() < score[~dog].mean() - 1.0
    # Without responses the two halves score alike.
    plain = simulate_contacts(tasks, seed=5)["satisfaction"].astype(float)
    assert abs(plain[dog].mean() - plain[~dog].mean()) < 0.5


def test_reached_customers_are_treated_customers_with_a_real_outcome():
    export = simulate_contacts(make_tasks(), seed=3)
    expected = export.loc[
        (export["group"] == "treatment")
        & export["outcome"].notna()
        & (export["outcome"] != "not_reached"),
        "customer_id",
    ]
    assert reached_customers(export) == sorted(set(expected))
    assert not set(reached_customers(export)) & set(
        export.loc[export["group"] == "holdout"].customer_id
    )

    by_hand = pd.DataFrame(
        {
            "group": ["treatment", "treatment", "treatment", "holdout", "treatment", "treatment"],
            "customer_id": ["C3", "C1", "C2", "C4", "C5", "C3"],
            "outcome": ["declined", "reached", "not_reached", "reached", None, "accepted_offer"],
        }
    )
    assert reached_customers(by_hand) == ["C1", "C3"]


# ------------------------------------------------------------------------ loading exports


@pytest.fixture(scope="module")
def bank(small_synthetic_bank):
    """The 400-customer synthetic bank, validated: C0000001 … C0000400."""
    con = engine.connect(FeaturesConfig())
    return con, load_bank(con, small_synthetic_bank, DataConfig())


def load(bank, path: Path, out: Path, config: DataConfig | None = None):
    con, data = bank
    return load_contacts(con, path, data, config or DataConfig(), out)


def two_campaigns() -> pd.DataFrame:
    return pd.concat(
        [
            simulate_contacts(make_tasks(120, "cmp-1"), seed=1),
            simulate_contacts(make_tasks(40, "cmp-2", first=201), seed=2),
        ],
        ignore_index=True,
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_good_export_loads_fully(bank, tmp_path, fmt):
    out = tmp_path / "outputs"
    assert list(read_contacts(out).columns) == COLUMNS and read_contacts(out).empty
    export = two_campaigns()
    path = tmp_path / f"crm-export.{fmt}"
    if fmt == "csv":
        export.to_csv(path, index=False)
    else:
        export.to_parquet(path, index=False)
    loaded = load(bank, path, out)
    assert loaded.report.rows_read == 160 and loaded.report.rows_quarantined == 0
    assert loaded.report.reasons == {}
    assert loaded.rows_kept == 160 and loaded.rows_total == 160
    assert loaded.campaigns == {"cmp-1": 120, "cmp-2": 40}
    assert loaded.quarantine_file is None and not (out / "quarantine").exists()
    assert loaded.outcomes_file == outcomes_file(out) and loaded.outcomes_file.exists()

    stored = read_contacts(out)
    pd.testing.assert_frame_equal(by_task(stored), by_task(export))
    second = read_contacts(out, "cmp-2")
    assert len(second) == 40 and set(second["campaign_id"]) == {"cmp-2"}
    assert list(second.index) == list(range(40))
    assert read_contacts(out, "cmp-9").empty


def spoil(export: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Five bad rows, by task id, with the reason each must be quarantined for."""
    bad = export.copy()
    treated = bad.index[(bad["group"] == "treatment") & bad["contacted_at"].notna()]
    reached = bad.index[bad["satisfaction"].notna()]
    rows = {
        "group": treated[0],
        "customer": treated[1],
        "early": treated[2],
        "score": next(r for r in reached if r not in treated[:3]),
        "future": treated[5],
    }
    assert len(set(rows.values())) == 5
    bad.loc[rows["group"], "group"] = "control"
    bad.loc[rows["customer"], "customer_id"] = "C9999999"
    bad.loc[rows["early"], "contacted_at"] = AS_OF - pd.Timedelta(hours=3)
    bad.loc[rows["score"], "satisfaction"] = 9
    bad.loc[rows["future"], "contacted_at"] = pd.Timestamp.now() + pd.Timedelta(days=30)
    reasons = {
        "group": "group: not one of treatment, holdout, owed",
        "customer": "customer_id: unknown in customers",
        "early": "contacted_at: before assigned_at",
        "score": "satisfaction: above 5",
        "future": "contacted_at: after the extraction time",
    }
    return bad, {bad.at[rows[key], "task_id"]: reasons[key] for key in rows}


def test_bad_rows_are_quarantined_with_their_reasons_and_the_rest_kept(bank, tmp_path):
    export = two_campaigns()
    bad, reasons = spoil(export)
    path = tmp_path / "crm-export.parquet"
    bad.to_parquet(path, index=False)
    out = tmp_path / "outputs"
    loaded = load(bank, path, out)

    assert loaded.report.rows_read == 160 and loaded.report.rows_quarantined == 5
    assert loaded.rows_kept == 155 and loaded.rows_total == 155
    assert sorted(r.split(" 2")[0] for r in loaded.report.reasons) == sorted(reasons.values())
    assert set(loaded.report.reasons.values()) == {1}
    examples = loaded.report.examples
    assert examples["group: not one of treatment, holdout, owed"] == "control"
    assert examples["customer_id: unknown in customers"] == "C9999999"
    assert examples["satisfaction: above 5"] == "9"

    assert loaded.quarantine_file == out / "quarantine" / "campaign_contacts-crm-export.parquet"
    quarantined = pd.read_parquet(loaded.quarantine_file)
    assert len(quarantined) == 5
    found = dict(zip(quarantined["task_id"], quarantined["_reason"], strict=True))
    assert found.keys() == reasons.keys()
    for task, reason in reasons.items():
        assert found[task].startswith(reason), (task, found[task])
    assert set(quarantined["group"]) >= {"control"}

    stored = read_contacts(out)
    assert len(stored) == 155 and not set(stored["task_id"]) & set(reasons)
    kept = export[~export["task_id"].isin(reasons)]
    pd.testing.assert_frame_equal(by_task(stored), by_task(kept))


def test_a_re_sent_task_replaces_its_row_and_a_bad_re_send_does_not(bank, tmp_path):
    export = two_campaigns()
    first = tmp_path / "first.csv"
    export.to_csv(first, index=False)
    out = tmp_path / "outputs"
    assert load(bank, first, out).rows_total == 160

    # The CRM calls an over-capacity task after all and re-sends it.
    pending = export[(export["group"] == "treatment") & export["contacted_at"].isna()]
    assert len(pending) > 0
    update = pending.head(1).copy()
    task = update["task_id"].iat[0]
    update["contacted_at"] = AS_OF + pd.Timedelta(days=6, hours=10)
    update["channel"] = "phone"
    update["outcome"] = "accepted_offer"
    update["satisfaction"] = pd.array([5], dtype="Int64")
    update["notes"] = "Called back after all."
    second = tmp_path / "second.parquet"
    update.to_parquet(second, index=False)
    loaded = load(bank, second, out)
    assert loaded.rows_kept == 1 and loaded.rows_total == 160
    assert loaded.campaigns == {update["campaign_id"].iat[0]: 1}

    stored = read_contacts(out).set_index("task_id")
    assert len(stored) == 160 and stored.index.is_unique
    assert stored.at[task, "outcome"] == "accepted_offer"
    assert stored.at[task, "satisfaction"] == 5
    assert stored.at[task, "contacted_at"] == AS_OF + pd.Timedelta(days=6, hours=10)
    others = by_task(read_contacts(out))
    others = others[others["task_id"] != task].reset_index(drop=True)
    expected = by_task(export)
    expected = expected[expected["task_id"] != task].reset_index(drop=True)
    pd.testing.assert_frame_equal(others, expected)

    # A re-send that breaks the contract is quarantined; the earlier row stays.
    broken = update.copy()
    broken["satisfaction"] = pd.array([0], dtype="Int64")
    third = tmp_path / "third.parquet"
    broken.to_parquet(third, index=False)
    # One bad row of one is more than any share: allow it to see the merge.
    loaded = load(bank, third, out, DataConfig(max_quarantine_share=1.0))
    assert loaded.rows_kept == 0 and loaded.rows_total == 160
    assert loaded.report.reasons == {"satisfaction: below 1": 1}
    assert read_contacts(out).set_index("task_id").at[task, "satisfaction"] == 5


def test_a_task_twice_in_one_export_is_quarantined(bank, tmp_path):
    export = two_campaigns()
    twice = pd.concat([export, export.iloc[[7]]], ignore_index=True)
    path = tmp_path / "twice.parquet"
    twice.to_parquet(path, index=False)
    loaded = load(bank, path, tmp_path / "outputs")
    assert loaded.report.reasons == {"task_id: duplicate key": 2}
    assert loaded.rows_kept == 159
    assert export["task_id"].iat[7] not in set(read_contacts(tmp_path / "outputs")["task_id"])


def test_too_many_bad_rows_stop_the_load_and_merge_nothing(bank, tmp_path):
    export = two_campaigns()
    good = tmp_path / "good.parquet"
    export.to_parquet(good, index=False)
    out = tmp_path / "outputs"
    load(bank, good, out)
    before = read_contacts(out)
    wrong = export.assign(group="control")
    path = tmp_path / "wrong.parquet"
    wrong.to_parquet(path, index=False)
    with pytest.raises(DataError, match="max_quarantine_share"):
        load(bank, path, out)
    pd.testing.assert_frame_equal(read_contacts(out), before)


def test_missing_required_column_or_file_is_a_data_error(bank, tmp_path):
    export = two_campaigns().drop(columns="group")
    path = tmp_path / "no-group.csv"
    export.to_csv(path, index=False)
    out = tmp_path / "outputs"
    with pytest.raises(DataError, match=r"required column\(s\) group missing"):
        load(bank, path, out)
    with pytest.raises(DataError, match="campaign contacts: no file .*nowhere.csv"):
        load(bank, tmp_path / "nowhere.csv", out)
    assert not outcomes_file(out).exists()


# ------------------------------------------------------------------------ the command line


def flat(text: str) -> str:
    return " ".join(text.split())


def test_outcomes_load_command_reports_kept_and_quarantined_rows(small_synthetic_bank, tmp_path):
    export = two_campaigns()
    export.loc[export["satisfaction"].notna().idxmax(), "satisfaction"] = 9
    path = tmp_path / "crm-export.csv"
    export.to_csv(path, index=False)
    result = retain(
        "outcomes", "load", str(path), "--data", str(small_synthetic_bank), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = flat(result.stdout)
    assert "160 rows read, 159 kept, 1 quarantined; 159 contacts in" in out
    assert "1 rows: satisfaction: above 5 (e.g. '9')" in out
    assert "cmp-1" in out and "cmp-2" in out
    stored = read_contacts(tmp_path / "outputs")
    assert len(stored) == 159
    assert (tmp_path / "outputs" / "quarantine" / "campaign_contacts-crm-export.parquet").exists()


def test_outcomes_load_command_with_a_missing_file_is_one_clear_line(
    small_synthetic_bank, tmp_path
):
    missing = tmp_path / "nowhere.csv"
    result = retain(
        "outcomes", "load", str(missing), "--data", str(small_synthetic_bank), cwd=tmp_path
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and "campaign contacts: no file" in lines[0]
    assert "nowhere.csv" in lines[0]
    assert not outcomes_file(tmp_path / "outputs").exists()


def test_outcomes_load_help_says_what_it_does(tmp_path):
    result = retain("outcomes", "load", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = flat(result.stdout)
    assert "Validate a CRM export of campaign contacts" in text
    assert "bad rows are quarantined with the reason" in text
    assert "CRM export (CSV or Parquet) of campaign contacts" in text and "--data" in text
