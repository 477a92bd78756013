"""The synthetic bank's truth, as a churn run reads it to judge the model.

The generator writes `_truth/churn.parquet`: per customer and month start, the chance of
leaving within 90 days and whether the customer had already decided to leave (`leaving`).
Which chance is the oracle depends on what counts as churn: `p_churn_90d` (every holding
closed) for `all_products_closed`, `p_leave_90d` (closed or gone dormant) for
`inactivity`; a bank generated before `p_leave_90d` existed has only the first, which is
then read for both (and the run says so).

What the truth adds to a run's metrics (`judge_against_truth`): the oracle's ROC and PR
AUC, the same on the customers not yet leaving at the as-of date for every contender
(`not_leaving_roc_auc`, `oracle_not_leaving_roc_auc`, …), the feature-limited oracle
(`training.feature_oracle`), and `headroom_share`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from common.names import TRUTH_CHURN
from evaluation.metrics import binary_metrics, headroom_share, not_leaving, subgroup_ranking_metrics
from training.contenders import FEATURE_ORACLE, LIGHTGBM, LOGISTIC, ORACLE, Contender
from training.model_run import ORACLE_METRICS, BinaryComparison

PROBABILITY_BY_KIND = {"all_products_closed": "p_churn_90d", "inactivity": "p_leave_90d"}
FALLBACK_PROBABILITY = "p_churn_90d"
LEAVING = "leaving"
NOT_LEAVING = "not_leaving"  # the metric group of customers not yet leaving at D


@dataclass(frozen=True)
class ChurnTruth:
    """The truth's churn probability and leaving flag per customer and snapshot date."""

    column: str  # the probability read
    table: pd.DataFrame  # customer_id, as_of, probability, leaving
    note: str = ""  # why another column than the churn definition's was read


def read_churn_truth(data_dir: Path, kind: str) -> ChurnTruth | None:
    """The truth of an extract the simulator wrote, or None for a real bank's extract."""
    path = data_dir / TRUTH_CHURN
    if not path.exists():
        return None
    available = set(pq.read_schema(path).names)
    wanted = PROBABILITY_BY_KIND[kind]
    column, note = wanted, ""
    if wanted not in available:
        column = FALLBACK_PROBABILITY
        note = f"{wanted} is not in {TRUTH_CHURN}: the oracle is {column}"
    table = pd.read_parquet(path, columns=["customer_id", "month_start", column, LEAVING])
    table = pd.DataFrame(
        {
            "customer_id": table["customer_id"],
            "as_of": pd.to_datetime(table["month_start"]),
            "probability": table[column].astype("float64"),
            LEAVING: table[LEAVING],
        }
    )
    return ChurnTruth(column, table, note)


def align_truth(rows: pd.DataFrame, truth: ChurnTruth) -> pd.DataFrame:
    """The truth of each row of `rows` (by `customer_id` and `as_of`), in their order, with
    the index of `rows`; NaN probability and missing `leaving` where the truth has none."""
    merged = rows[["customer_id", "as_of"]].merge(
        truth.table, on=["customer_id", "as_of"], how="left"
    )
    merged.index = rows.index
    return merged[["probability", LEAVING]]


def truth_is_complete(aligned: pd.DataFrame) -> bool:
    return bool(aligned["probability"].notna().all() and aligned[LEAVING].notna().all())


def judge_against_truth(
    comparison: BinaryComparison,
    test_truth: pd.DataFrame,
    contenders: tuple[Contender, ...],
    feature_oracle_scores: np.ndarray | None = None,
) -> tuple[BinaryComparison, dict[str, str]]:
    """Add the truth's view to a churn comparison.

    Args:
        comparison: the model and its baselines on the test rows.
        test_truth: `align_truth` of the test rows (complete).
        contenders: the model and baselines in `comparison.scores`, by title.
        feature_oracle_scores: the feature-limited oracle's probabilities for the test rows.

    Returns:
        The comparison with the oracle (and feature-limited oracle) among its scores and the
        metrics described in the module docstring; notes on what could not be measured
        (`headroom_share` when the oracle is not above the logistic baseline).
    """
    labels = comparison.labels
    scores = dict(comparison.scores) | {ORACLE.title: test_truth["probability"].to_numpy()}
    judged = [*contenders, ORACLE]
    if feature_oracle_scores is not None:
        scores[FEATURE_ORACLE.title] = feature_oracle_scores
        judged.append(FEATURE_ORACLE)
    metrics = dict(comparison.metrics)
    keep = not_leaving(test_truth[LEAVING].to_numpy())
    for contender in (ORACLE, FEATURE_ORACLE):
        if contender.title in scores:
            metrics |= {
                contender.key(key): value
                for key, value in binary_metrics(labels, scores[contender.title]).items()
                if key in ORACLE_METRICS
            }
    for contender in judged:
        metrics |= subgroup_ranking_metrics(
            labels, scores[contender.title], keep, NOT_LEAVING, prefix=contender.prefix
        )
    metrics["not_leaving_share"] = float(keep.mean())
    metrics["not_leaving_label_rate"] = float(labels[keep].mean()) if keep.any() else np.nan
    headroom = headroom_share(
        metrics[LIGHTGBM.key("roc_auc")],
        metrics[LOGISTIC.key("roc_auc")],
        metrics[ORACLE.key("roc_auc")],
    )
    metrics["headroom_share"] = headroom.share
    notes = {"headroom_share": headroom.reason} if headroom.reason else {}
    return replace(comparison, scores=scores, metrics=metrics), notes
