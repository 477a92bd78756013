"""`retain data synth`: the mechanisms come from the configuration, or all off with --plain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from common.names import TRUTH_CHURN

# Two generations in their own processes, as a user runs them: some 15 s.
pytestmark = pytest.mark.slow


def synth(out: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "retain", "data", "synth", "--customers", "600"]
    command += ["--months", "5", "--seed", "4", "--out", str(out), *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")} | env
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)


@pytest.fixture(scope="module")
def banks(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("synth_cli")
    runs = {"plain": ("--plain",), "no_silent": ()}
    env = {"no_silent": {"RETAIN_SYNTH__MECHANISMS__SILENT_CHURN": "false"}}
    for name, args in runs.items():
        result = synth(root / name, *args, **env.get(name, {}))
        assert result.returncode == 0, result.stderr
        assert "gone dormant" in result.stdout
    return {name: root / name for name in runs}


def test_plain_switches_every_mechanism_off(banks):
    folder = banks["plain"]
    assert pd.read_parquet(folder / "holdings.parquet")["fixed_until"].isna().all()
    assert pd.read_parquet(folder / "market_rates.parquet")["market_savings_rate"].nunique() == 1
    assert pd.read_parquet(folder / "customer_attributes.parquet")["customer_id"].is_unique
    truth = pd.read_parquet(folder / TRUTH_CHURN)
    pd.testing.assert_series_equal(truth["p_leave_90d"], truth["p_churn_90d"], check_names=False)


def test_a_mechanism_is_switched_by_the_environment(banks):
    truth = pd.read_parquet(banks["no_silent"] / TRUTH_CHURN)
    pd.testing.assert_series_equal(truth["p_leave_90d"], truth["p_churn_90d"], check_names=False)
    # Only that one: fixed periods are still there.
    assert pd.read_parquet(banks["no_silent"] / "holdings.parquet")["fixed_until"].notna().any()
