"""The `retain` command as a user runs it: help everywhere, errors without tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from banks import tiny_bank_frames, write_bank


def _all_commands() -> list[list[str]]:
    """Every command and group of the real app, so a new one cannot miss its help test."""
    import click
    import typer

    from retain.cli import app

    found = []

    def walk(command: click.Command, path: list[str]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _all_commands()


def retain(*args: str, cwd=None):
    # MLflow exports the tracking URI of an earlier test in this process into os.environ;
    # a user's command starts without it.
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(
        [sys.executable, "-m", "retain", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "retain")
def test_every_command_has_help(command):
    result = retain(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert len(result.stdout.split("Usage:")[1].strip().splitlines()) > 2


def test_missing_data_folder_is_one_clear_line(tmp_path):
    result = retain("data", "validate", "--data", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "data folder" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_as_of_date_is_named(tmp_path):
    folder = write_bank(tiny_bank_frames(), tmp_path / "bank")
    result = retain(
        "features",
        "build",
        "--data",
        str(folder),
        "--as-of",
        "2024-13-01",
        "--out",
        str(tmp_path / "f.parquet"),
    )
    assert result.returncode == 2
    assert "as-of date '2024-13-01' is not a date" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_then_build_from_the_command_line(tmp_path):
    folder = write_bank(tiny_bank_frames(), tmp_path / "bank")
    out = tmp_path / "features.parquet"
    result = retain("data", "validate", "--data", str(folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "outputs" / "data_quality.csv").exists()
    result = retain(
        "features",
        "build",
        "--data",
        str(folder),
        "--as-of",
        "2024-02-01",
        "--as-of",
        "2024-03-01",
        "--labels",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "6 rows" in result.stdout
    # No customer_attributes in this extract: the build says its attributes are as of
    # extraction.
    assert "customer attributes: as of extraction for every row" in result.stdout
    import pandas as pd

    frame = pd.read_parquet(out)
    assert sorted(frame["customer_id"].unique()) == ["C1", "C2", "C4"]
    assert "label_churn" in frame


@pytest.mark.slow
@pytest.mark.integration
def test_demo_runs_end_to_end_on_a_small_bank(tmp_path):
    result = retain("demo", "--customers", "1500", "--months", "18", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Point-in-time features and labels" in result.stdout
    assert "demo finished" in result.stdout
    import pandas as pd

    frame = pd.read_parquet(tmp_path / "outputs" / "features.parquet")
    labelled = frame[frame["label_churn"].notna()]
    assert 0 < labelled["label_churn"].mean() < 0.2
    assert frame["as_of"].nunique() == 7
    assert "retain-churn version 1 as challenger, champion" in result.stdout
    assert "retain-xsell version 1 as challenger, champion" in result.stdout
    assert "map_at_7" in result.stdout
    assert (tmp_path / "mlruns" / "mlflow.db").exists()
    campaigns = list((tmp_path / "outputs").glob("campaign-*/callbacks.csv"))
    assert len(campaigns) == 1 and "Top" in result.stdout
    assert "Capacity plan" in result.stdout and "verdict" in result.stdout
    callbacks = pd.read_csv(campaigns[0])
    assert len(callbacks) > 0 and callbacks["reasons"].notna().any()
