"""The truth a churn run is judged against: which probability is read, the not-leaving
metrics, the headroom share and the feature-limited oracle, on hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.names import TRUTH_CHURN
from evaluation.metrics import binary_metrics
from training.contenders import LIGHTGBM, LOGISTIC
from training.feature_oracle import fit_feature_oracle
from training.model_run import BinaryComparison
from training.truth import align_truth, judge_against_truth, read_churn_truth, truth_is_complete


def _write_truth(folder, with_leave: bool) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C1", "C2"],
            "month_start": pd.to_datetime(["2024-01-01"] * 2 + ["2024-02-01"] * 2).date,
            "p_churn_90d": [0.1, 0.2, 0.3, 0.4],
            "p_churn_90d_if_called": [0.1, 0.2, 0.3, 0.4],
            "leaving": [False, True, False, False],
        }
    )
    if with_leave:
        frame["p_leave_90d"] = [0.5, 0.6, 0.7, 0.8]
    path = folder / TRUTH_CHURN
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)


@pytest.mark.parametrize(
    ("with_leave", "kind", "column", "first"),
    [
        (True, "all_products_closed", "p_churn_90d", 0.1),
        (True, "inactivity", "p_leave_90d", 0.5),
        (False, "inactivity", "p_churn_90d", 0.1),  # a bank from before p_leave_90d
        (False, "all_products_closed", "p_churn_90d", 0.1),
    ],
)
def test_the_probability_read_follows_the_churn_definition(
    tmp_path, with_leave, kind, column, first
):
    _write_truth(tmp_path, with_leave)
    truth = read_churn_truth(tmp_path, kind)
    assert truth.column == column
    assert ("not in" in truth.note) == (kind == "inactivity" and not with_leave)
    rows = pd.DataFrame(
        {"customer_id": ["C2", "C1", "C9"], "as_of": pd.to_datetime(["2024-01-01"] * 3)},
        index=[7, 3, 5],
    )
    aligned = align_truth(rows, truth)
    assert list(aligned.index) == [7, 3, 5]
    assert aligned.loc[3, "probability"] == pytest.approx(first)
    assert bool(aligned.loc[7, "leaving"]) is True
    assert not truth_is_complete(aligned)  # C9 is not in the truth
    assert truth_is_complete(aligned.loc[[7, 3]])


def test_no_truth_on_a_real_extract(tmp_path):
    assert read_churn_truth(tmp_path, "all_products_closed") is None


def test_judged_against_truth_by_hand():
    labels = np.array([1, 0, 1, 0, 1, 0], dtype=float)
    leaving = np.array([True, True, False, False, False, False])
    # The model ranks the leavers first and the rest badly; the oracle ranks all well.
    model = np.array([0.9, 0.1, 0.2, 0.3, 0.4, 0.5])
    logistic = np.array([0.8, 0.2, 0.5, 0.4, 0.3, 0.2])
    oracle = np.array([0.9, 0.1, 0.6, 0.2, 0.7, 0.3])
    scores = {LIGHTGBM.title: model, LOGISTIC.title: logistic}
    comparison = BinaryComparison(
        None,
        None,
        labels,
        scores,
        binary_metrics(labels, model) | binary_metrics(labels, logistic, LOGISTIC.prefix),
        pd.DataFrame(),
    )
    truth = pd.DataFrame({"probability": oracle, "leaving": leaving})
    judged, notes = judge_against_truth(comparison, truth, (LIGHTGBM, LOGISTIC), oracle * 0.9)
    m = judged.metrics
    assert m["oracle_roc_auc"] == pytest.approx(1.0)
    assert m["feature_oracle_roc_auc"] == pytest.approx(1.0)
    # Not leaving: labels 1, 0, 1, 0; the model's 0.2, 0.3, 0.4, 0.5 gets 1 of 4 pairs right.
    assert m["not_leaving_roc_auc"] == pytest.approx(0.25)
    assert m["oracle_not_leaving_roc_auc"] == pytest.approx(1.0)
    assert m["baseline_logreg_not_leaving_roc_auc"] == pytest.approx(0.75)
    assert m["not_leaving_share"] == pytest.approx(4 / 6)
    expected = (m["roc_auc"] - m["baseline_logreg_roc_auc"]) / (1.0 - m["baseline_logreg_roc_auc"])
    assert m["headroom_share"] == pytest.approx(expected)
    assert notes == {}
    assert comparison.metrics.get("oracle_roc_auc") is None, "the input must not change"


def test_feature_oracle_learns_the_truth_from_the_features():
    rng = np.random.default_rng(0)

    def bank(n):
        frame = pd.DataFrame({"x": rng.normal(size=n), "noise": rng.normal(size=n)})
        frame["segment"] = pd.Categorical(rng.choice(["a", "b"], n))
        logit = -4 + 1.5 * frame["x"] + np.where(frame["segment"] == "b", 1.0, 0.0)
        return frame, 1 / (1 + np.exp(-logit))

    train, p_train = bank(20_000)
    valid, p_valid = bank(5_000)
    test, p_test = bank(5_000)
    oracle = fit_feature_oracle(
        train, p_train, valid, p_valid, ["x", "noise", "segment"], seed=0, source="test"
    )
    predicted = oracle.predict_proba(test)
    assert np.corrcoef(predicted, p_test)[0, 1] > 0.98
    assert abs(predicted.mean() - p_test.mean()) < 0.005  # soft labels: no recalibration
    with pytest.raises(ValueError, match="probabilities"):
        fit_feature_oracle(train, p_train * 2, valid, p_valid, ["x"], 0, "test")
