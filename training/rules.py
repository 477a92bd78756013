"""The rules a retention team might use without a model, as baselines every run reports.

A rule is a score on the feature frame (higher = ring first); `RuleBaseline` turns it into
probabilities through the outcome rate of each score bin on the training period, so its
calibration and log loss can be read beside the model's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.contenders import INACTIVITY, SALARY_OR_OUTFLOW, Contender, rule

RuleScore = Callable[[pd.DataFrame], np.ndarray]

# Inactivity: what a retention team without a model would ring first.
INACTIVITY_FEATURE = "days_since_last_txn"
# "Salary stopped or money leaving": the team's own warning signs. Money is leaving when at
# least half of what came in over 90 days went out to another bank (a round rule of thumb,
# not fitted: within the rule customers are ranked by that share anyway).
MONEY_LEAVING_SHARE = 0.5
SALARY_OUTFLOW_FEATURES = ("salary_stopped", "transfer_out_other_bank_sum_90d", "credit_sum_90d")


def column_score(feature: str) -> RuleScore:
    """Rank by one column, a missing value last-seen-never: as inactive as can be."""

    def score(frame: pd.DataFrame) -> np.ndarray:
        return frame[feature].astype("float64").fillna(1e6).to_numpy()

    score.__name__ = f"column_score({feature})"
    return score


inactivity_score = column_score(INACTIVITY_FEATURE)


def outflow_share(frame: pd.DataFrame) -> np.ndarray:
    """Money sent to other banks over 90 days ÷ money in over 90 days (at least 1 unit, so
    a customer with nothing coming in and money going out has a large share)."""
    out = frame["transfer_out_other_bank_sum_90d"].astype("float64").fillna(0.0).to_numpy()
    money_in = frame["credit_sum_90d"].astype("float64").fillna(0.0).to_numpy()
    return np.clip(out, 0.0, None) / np.maximum(money_in, 1.0)


def salary_or_outflow_score(frame: pd.DataFrame) -> np.ndarray:
    """Customers whose salary stopped or whose money is leaving first (score ≥ 1), each
    group ranked by its outflow share (mapped into [0, 1) by share ÷ (1 + share)).

    Raises:
        KeyError: If the frame lacks one of `SALARY_OUTFLOW_FEATURES`.
    """
    missing = [name for name in SALARY_OUTFLOW_FEATURES if name not in frame]
    if missing:
        raise KeyError(f"salary-or-outflow rule: feature frame lacks {missing}")
    share = outflow_share(frame)
    stopped = frame["salary_stopped"].astype("float64").fillna(0.0).to_numpy() >= 1
    flagged = stopped | (share >= MONEY_LEAVING_SHARE)
    return flagged.astype("float64") + share / (1.0 + share)


@dataclass(frozen=True)
class Rule:
    """A rule baseline: its title and metric prefix, its score, and the score values where
    its own groups change (its probability bins must not straddle them)."""

    contender: Contender
    score: RuleScore
    breaks: tuple[float, ...] = ()


def column_rule(feature: str) -> Rule:
    """Table mode's rule: the one column that ranks best."""
    return Rule(rule(feature), column_score(feature))


INACTIVITY_RULE = Rule(INACTIVITY, inactivity_score)
SALARY_OR_OUTFLOW_RULE = Rule(SALARY_OR_OUTFLOW, salary_or_outflow_score, breaks=(1.0,))
CHURN_RULES = (INACTIVITY_RULE, SALARY_OR_OUTFLOW_RULE)


@dataclass(frozen=True)
class RuleBaseline:
    """A rule's scores made probabilities: the outcome rate of each score decile (and of
    each group the rule itself defines) on the training period."""

    score: RuleScore
    edges: tuple[float, ...]
    rates: tuple[float, ...]

    @classmethod
    def fit(cls, train: pd.DataFrame, label: str, rule: Rule) -> RuleBaseline:
        values = rule.score(train)
        deciles = np.quantile(values, np.linspace(0.1, 0.9, 9))
        edges = tuple(np.unique(np.concatenate([deciles, rule.breaks])))
        bins = np.searchsorted(edges, values, side="right")
        labels = train[label].to_numpy(dtype=float)
        overall = labels.mean()
        rates = tuple(
            float(labels[bins == b].mean()) if (bins == b).any() else overall
            for b in range(len(edges) + 1)
        )
        return cls(rule.score, edges, rates)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        bins = np.searchsorted(self.edges, self.score(frame), side="right")
        return np.asarray(self.rates)[bins]
