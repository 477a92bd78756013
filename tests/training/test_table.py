"""Snapshot-table mode: reading, typing, splitting, and the public datasets' quality bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.config import load_config, with_overrides
from common.errors import DataError
from training.table import LABEL, TableTask, prepare, read_table, split, train_table

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def small_table(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    balance = rng.gamma(2, 5000, rows)
    country = rng.choice(["FR", "ES", "DE"], rows)
    risk = 1 / (1 + np.exp(-(0.05 * (age - 50) + (country == "DE") * 1.0)))
    return pd.DataFrame(
        {
            "customer": [f"K{i:05d}" for i in range(rows)],
            "surname": [f"Name{i}" for i in rng.integers(0, 10_000, rows)],
            "month": np.repeat(np.arange(rows // 40), 40)[:rows],
            "age": age,
            "balance": balance,
            "country": country,
            "left": np.where(rng.uniform(size=rows) < risk, "yes", "no"),
        }
    )


def test_reads_semicolon_and_comma_files_alike(tmp_path):
    frame = small_table()
    frame.to_csv(tmp_path / "semi.csv", sep=";", index=False)
    frame.to_csv(tmp_path / "comma.csv", index=False)
    pd.testing.assert_frame_equal(
        read_table(tmp_path / "semi.csv"), read_table(tmp_path / "comma.csv")
    )


def test_types_declared_and_identifiers_and_names_left_out(tmp_path):
    frame, features, dropped = prepare(
        small_table(), TableTask(tmp_path / "t.csv", "left", "yes", "m")
    )
    assert features == ["month", "age", "balance", "country"]
    assert dropped["customer"] == "unique per row: an identifier"
    assert dropped["surname"].startswith("text with")
    assert isinstance(frame["country"].dtype, pd.CategoricalDtype)
    assert frame["age"].dtype == "float64" and set(frame[LABEL]) == {0.0, 1.0}


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (dict(target="gone", positive="yes"), "--target column 'gone' not found; columns are"),
        (
            dict(target="left", positive="maybe"),
            "--positive 'maybe' never occurs in 'left' (values: no, yes)",
        ),
        (dict(target="left", positive="yes", drop=("nope",)), "--drop column 'nope' not found"),
    ],
)
def test_bad_arguments_are_named(tmp_path, task, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        prepare(small_table(), TableTask(tmp_path / "t.csv", name="m", **task))


def test_order_by_tests_on_the_latest_rows(tmp_path):
    raw = small_table().sample(frac=1, random_state=3)  # file not in time order
    task = TableTask(tmp_path / "t.csv", "left", "yes", "m", order_by="month")
    frame, _, _ = prepare(raw, task)
    train, valid, test, how = split(frame, task, seed=1, order=raw["month"])
    assert how == "out of time by month"
    assert (
        len(test) == 80
        and raw.loc[test.index, "month"].min() >= raw.loc[train.index, "month"].max()
    )
    assert raw.loc[valid.index, "month"].max() <= raw.loc[test.index, "month"].min()


def _train(tmp_path, path, **task):
    config = with_overrides(
        load_config(), "training", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"
    )
    return train_table(TableTask(path, **task), config)


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "churn-modelling").exists(), reason="shared data absent")
def test_churn_modelling_reaches_the_published_level(tmp_path):
    result = _train(
        tmp_path,
        SHARED / "churn-modelling" / "Churn_Modelling.csv",
        target="Exited",
        positive="1",
        name="churn-modelling",
    )
    assert {"RowNumber", "CustomerId", "Surname"} <= set(result.dropped)
    assert result.metrics["roc_auc"] >= 0.85  # public notebooks: 0.86-0.87
    assert result.metrics["roc_auc"] > result.metrics["baseline_logreg_roc_auc"]
    assert result.metrics["roc_auc"] > result.metrics["baseline_rule_roc_auc"]
    assert (result.version, result.aliases) == ("1", ["challenger", "champion"])


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "uci-bank-marketing").exists(), reason="shared data absent")
def test_bank_marketing_in_file_order_reports_the_shift(tmp_path):
    result = _train(
        tmp_path,
        SHARED / "uci-bank-marketing" / "bank-additional-full.csv",
        target="y",
        positive="yes",
        name="bank-marketing",
        drop=("duration",),
        file_order=True,
    )
    assert "duration" in result.dropped and "duration" not in result.features
    assert result.metrics["label_rate_test"] > 3 * result.metrics["label_rate_train"]
    assert result.metrics["max_feature_psi"] > 1
    assert result.drift_warning and "positive rate" in result.drift_warning
    assert result.metrics["roc_auc"] >= 0.6


def test_backtest_rolls_origins_forward_in_time(tmp_path):
    frame = small_table(rows=1200, seed=3)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    from training.table import backtest_table

    task = TableTask(path, "left", "yes", "bt", id_column="customer", order_by="month")
    per_origin = backtest_table(task, load_config(), origins=3)
    assert len(per_origin) == 3
    # Each origin trains on more history than the one before and tests on 20 % of the rows.
    assert per_origin["train_rows"].is_monotonic_increasing
    assert (per_origin["test_rows"] == 240).all()
    assert (per_origin["roc_auc"] > 0.6).all()
    with pytest.raises(DataError, match="time order"):
        backtest_table(TableTask(path, "left", "yes", "bt"), load_config(), origins=3)


def test_tuning_searches_on_validation_and_keeps_the_test_unseen():
    from training.binary import fit_lightgbm

    frame, features, _ = prepare(
        small_table(rows=1200, seed=4),
        TableTask(Path("t"), "left", "yes", "x", id_column="customer"),
    )
    train, valid = frame.iloc[:800], frame.iloc[800:]
    config = load_config().training.model_copy(update={"tuning_seconds": 3.0})
    model, fit = fit_lightgbm(train, valid, LABEL, features, config)
    assert set(fit.tuned) == {
        "num_leaves",
        "learning_rate",
        "min_child_samples",
        "feature_fraction",
        "lambda_l2",
    }
    assert model.booster.num_trees() == fit.best_iteration
    _, untuned = fit_lightgbm(train, valid, LABEL, features, load_config().training)
    assert untuned.tuned is None
