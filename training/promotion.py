"""Promotion of a registered model on the extract's latest fully labelled snapshot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.config import RetainConfig
from common.errors import RetainError
from common.names import CHURN_MODEL, XSELL_MODEL
from evaluation.metrics import ranking_metrics
from features.definitions import LABEL_CHURN
from features.pipeline import catalogue
from features.validation import BankData
from training import churn, registry, xsell
from training.dataset import build_snapshot_frame, plan_snapshots, snapshot_cache


@dataclass(frozen=True)
class Holdout:
    """The rows both versions score, their labels, and how the primary metric is computed."""

    frame: pd.DataFrame
    labels: np.ndarray
    description: str
    score: registry.Scorer | None = None


def latest_holdout(name: str, bank: BankData, config: RetainConfig) -> Holdout:
    """The test snapshot a training run on this extract would use, for `name`."""
    plan = plan_snapshots(bank.extracted_at, config.features, config.training)
    frame = build_snapshot_frame(bank, [plan.test], config.features, snapshot_cache(config))
    if name == CHURN_MODEL:
        frame = churn.churn_rows(frame)
        return Holdout(
            frame,
            frame[LABEL_CHURN].to_numpy(dtype=float),
            f"as of {plan.test}, {len(frame):,} customers",
        )
    if name == XSELL_MODEL:
        products = catalogue(bank)
        frame = xsell.xsell_rows(frame, products)
        labels = xsell.label_matrix(frame, products)

        def map_at_7(truth: np.ndarray, predictions) -> float:
            # Score only the products the version modelled, in catalogue order.
            scores = pd.DataFrame(predictions).reindex(columns=products).to_numpy(dtype=float)
            return ranking_metrics(truth, scores)["map_at_7"]

        return Holdout(frame, labels, f"as of {plan.test}, {len(frame):,} customers", map_at_7)
    raise RetainError(
        f"promotion on an extract is available for {CHURN_MODEL} and {XSELL_MODEL}; got {name!r}"
    )


def promote(name: str, bank: BankData, config: RetainConfig, source: str) -> registry.Decision:
    """Compare challenger with champion on the latest holdout, apply and record."""
    holdout = latest_holdout(name, bank, config)
    decision = registry.decide(
        name, holdout.frame, holdout.labels, config.training.promotion_tolerance, holdout.score
    )
    registry.apply(decision, f"{source} {holdout.description}")
    return decision
