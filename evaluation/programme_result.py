"""What a programme evaluation finds: `evaluate_campaign` returns it, the report renders it.

Both sides import this module, so the evaluation never depends on the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# The columns each table of the evaluation carries, in the order the report writes them.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "operations": ("tier", "channel", "tasks", "contacted", "coverage", "within_sla"),
    "service": ("measure", "eligible", "within_7_days", "share"),
    "outcomes": (
        "group",
        "customers",
        "contacted",
        "churn_rate",
        "repurchase_rate",
        "satisfaction_before",
        "satisfaction_after",
        "resolution_rate",
    ),
    "churn_by_tier": (
        "tier",
        "customers",
        "churn_rate_horizon",
        "annualised_churn",
        "target",
        "meets_target",
    ),
    "effects": (
        "outcome",
        "estimand",
        "segment",
        "value",
        "treated_n",
        "treated_rate",
        "holdout_n",
        "holdout_rate",
        "difference",
        "ci_low",
        "ci_high",
        "p_value",
        "test",
        "primary",
        "p_value_adjusted",
    ),
    "calibration": ("decile", "customers", "mean_predicted", "realised_churn"),
    "targeting": ("targeting", "calls", "retained_per_1000_calls", "qini"),
}


@dataclass
class ProgrammeEvaluation:
    """Everything the report shows; rates and effects as fractions (0.021, not 2.1)."""

    headline: dict  # ordered key -> number/str; see report_format.HEADLINE_LABELS
    operations: pd.DataFrame  # tier, channel, tasks, contacted, coverage, within_sla
    service: pd.DataFrame  # measure, eligible, within_7_days, share
    outcomes: pd.DataFrame  # group, customers, contacted, churn_rate, repurchase_rate, ...
    churn_by_tier: pd.DataFrame  # tier, customers, churn_rate_horizon, annualised_churn, ...
    effects: pd.DataFrame  # outcome, estimand, segment, value, treated_n, ..., p_value, test
    calibration: pd.DataFrame  # decile, customers, mean_predicted, realised_churn
    targeting: pd.DataFrame | None = None  # targeting, calls, retained_per_1000_calls, qini
    qini_curves: dict[str, tuple[np.ndarray, np.ndarray]] | None = None  # (share, qini)
    notes: list[str] = field(default_factory=list)  # plain-text caveats shown at the top
    links: dict[str, str] = field(default_factory=dict)  # related reports: label -> URL

    def tables(self) -> dict[str, pd.DataFrame]:
        """Table name -> frame, in `TABLE_COLUMNS` order; targeting only when given."""
        tables = {name: getattr(self, name) for name in TABLE_COLUMNS if name != "targeting"}
        if self.targeting is not None:
            tables["targeting"] = self.targeting
        return tables

    def missing_columns(self) -> dict[str, list[str]]:
        """Table name -> the columns of `TABLE_COLUMNS` it lacks (only tables lacking some)."""
        missing = {}
        for name, frame in self.tables().items():
            absent = [column for column in TABLE_COLUMNS[name] if column not in frame.columns]
            if absent:
                missing[name] = absent
        return missing
