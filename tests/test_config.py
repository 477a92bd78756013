"""The typed configuration: defaults, TOML, environment overrides, clear errors."""

from __future__ import annotations

import pytest

from common.config import load_config, with_overrides
from common.config_toml import to_toml
from common.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in [n for n in __import__("os").environ if n.startswith("RETAIN_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_need_no_file():
    config = load_config()
    assert config.synth.customers == 5000
    assert config.features.windows_days == (30, 90, 180, 365)
    assert config.features.churn.kind == "all_products_closed"


def test_toml_then_environment(tmp_path, monkeypatch):
    path = tmp_path / "retain.toml"
    path.write_text("[features]\nhorizon_days = 60\n[features.tiers]\ncore_min_assets = 5e5\n")
    assert load_config(path).features.horizon_days == 60
    assert load_config().features.tiers.core_min_assets == 500_000  # ./retain.toml found
    monkeypatch.setenv("RETAIN_FEATURES__HORIZON_DAYS", "30")
    assert load_config(path).features.horizon_days == 30


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[features]\nhorizon_days = -3\n",
            "features.horizon_days = -3: Input should be greater than 0",
        ),
        (
            "[features]\nwindows_days = [90, 30]\n",
            "features.windows_days = [90, 30]: Value error, must be a non-empty list of distinct",
        ),
        (
            '[features.churn]\nkind = "gone"\n',
            "features.churn.kind = 'gone': Input should be 'all_products_closed' or 'inactivity'",
        ),
        ("[features]\nhorizon = 3\n", "features.horizon: unknown key"),
        ("[features\n", "is not valid TOML"),
    ],
)
def test_invalid_file_names_key_value_and_rule(tmp_path, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value)


def test_invalid_environment_override_names_the_variable(monkeypatch):
    monkeypatch.setenv("RETAIN_DATA__COMPLETENESS_THRESHOLD", "1.5")
    with pytest.raises(ConfigError, match="RETAIN_DATA__COMPLETENESS_THRESHOLD"):
        load_config()


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_overrides_are_validated_and_leave_the_original():
    config = load_config()
    changed = with_overrides(config, "features", engine="spark", spark_master=None)
    assert changed.features.engine == "spark" and config.features.engine == "duckdb"
    with pytest.raises(ConfigError, match="features.engine = 'flink'"):
        with_overrides(config, "features", engine="flink")


def test_shown_toml_reads_back_identically(tmp_path):
    config = load_config()
    path = tmp_path / "shown.toml"
    path.write_text(to_toml(config))
    read_back = load_config(path)
    assert read_back.model_dump() == config.model_dump()
    assert read_back.source_file == path.resolve() and config.source_file is None


def test_the_file_read_travels_with_the_configuration(tmp_path, monkeypatch):
    """`retain serve` hands its workers the file it read: copies keep it, and a file named
    by RETAIN_CONFIG or found as ./retain.toml counts as read too."""
    from common.config import with_overrides

    path = tmp_path / "bank.toml"
    path.write_text("[serving]\ntop_k_products = 1\n")
    config = load_config(path)
    assert with_overrides(config, "serving", reasons=2).source_file == path.resolve()
    monkeypatch.setenv("RETAIN_CONFIG", str(path))
    assert load_config().source_file == path.resolve()
    monkeypatch.delenv("RETAIN_CONFIG")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "retain.toml").write_text("")
    assert load_config().source_file == (tmp_path / "retain.toml").resolve()
