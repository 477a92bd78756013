"""The model and what it is judged against, as every training run names them.

Each set of test-period scores has a title (plot legends, CSV and console columns) and a
metric prefix: the model's metrics are bare (`roc_auc`), a baseline's or the oracle's carry
its prefix (`baseline_logreg_roc_auc`). These names are read by docs/quality.md, bench/ and
the tests: declared here once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Contender:
    """One set of scores on the test period."""

    title: str
    prefix: str

    def key(self, metric: str) -> str:
        """The logged name of `metric` for this contender."""
        return f"{self.prefix}{metric}"


LIGHTGBM = Contender("LightGBM", "")
LOGISTIC = Contender("logistic regression", "baseline_logreg_")
ORACLE = Contender("oracle (truth)", "oracle_")  # the synthetic bank's own probabilities
# A model fitted to the truth's probabilities from Retain's features: the ceiling given them.
FEATURE_ORACLE = Contender("feature-limited oracle", "feature_oracle_")
RULE_PREFIX = "baseline_rule_"


def rule(what: str) -> Contender:
    """The one-feature (or no-feature) rule a team might use without a model."""
    return Contender(f"rule: {what}", RULE_PREFIX)


# The rules of each model: inactivity for churn, popularity for cross-sell; table mode's
# is the column that ranks best on its training part.
INACTIVITY = rule("inactivity")
POPULARITY = rule("popularity")
# Churn's second rule, the one a retention team would use (training.rules): its own prefix.
SALARY_OR_OUTFLOW = Contender("rule: salary stopped or money leaving", "baseline_salary_outflow_")
