"""Which uplift model should target the next campaign? Valued on the logged campaigns.

A bank cannot see how many customers a call keeps, so an uplift challenger is judged by
the doubly-robust estimate (`evaluation.off_policy`) of what its targeting would have kept
on the campaigns already run: each campaign's support (customers whose call was left to
chance), at the number of calls it made, the customers each model would call first. Only
customers on the validation side of the stable split (`training.uplift.validation_part`)
count, which no uplift model was ever fitted on, so a challenger trained on the newest
campaign is not valued on its own training rows. The champion's churn-if-called and
churn-if-not-called are the outcome model for every rule valued (the design's known
probabilities keep the estimate unbiased whatever that model is; the shared Γ makes the
comparison paired).
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd

from common.config import RetainConfig
from common.errors import DataError
from common.names import CHALLENGER, CHAMPION, RETENTION_CALLBACK, UPLIFT_MODEL
from evaluation import off_policy
from evaluation.programme import campaign_files, campaign_outcomes
from training import registry
from training.model import UpliftModel
from training.uplift import validation_part

CHURN_RISK, THE_LISTS = "churn risk", "the campaigns' lists"
METRIC = "dr_retained_per_1000_calls"


@dataclass(frozen=True)
class LoggedValues:
    """Every rule's value on the campaigns' support, and the rows behind it: per customer
    its campaign, Γ, and `chosen: <rule>` for each rule valued."""

    support: pd.DataFrame
    values: dict[str, off_policy.PolicyValue]
    campaigns: tuple[str, ...]

    def difference(self, rule: str, reference: str) -> off_policy.PolicyDifference:
        return off_policy.policy_difference(
            self.support["gamma"].to_numpy(),
            self.support[f"chosen: {rule}"].to_numpy(),
            self.support[f"chosen: {reference}"].to_numpy(),
            clusters=self.support["customer_id"].to_numpy(),
            support=self.support,
        )


def logged_values(
    bank,
    config: RetainConfig,
    campaign_dirs,
    models: dict[str, UpliftModel],
    outcome_model: UpliftModel,
    unseen_only: bool = True,
    population: pd.DataFrame | None = None,
) -> LoggedValues:
    """Value each model's targeting, churn risk's and the lists the campaigns made, on the
    campaigns `retain score` wrote to `campaign_dirs`, with outcomes from `bank`
    (`population`: one campaign's features and outcomes already computed by
    `evaluation.programme.campaign_outcomes`).

    Raises:
        DataError: a folder is not a campaign, its horizon is not over in `bank`, or a
            campaign has no randomised retention calls.
    """
    parts, names = [], []
    for folder in campaign_dirs:
        tasks, scores, as_of = campaign_files(folder, bank, config)
        known = population if population is not None and len(campaign_dirs) == 1 else None
        if known is None:
            known = campaign_outcomes(bank, as_of, config)
        support = off_policy.logged_support(tasks, scores, known[["customer_id", "churned"]])
        features = known.drop(
            columns=["churned", *scores.columns.drop("customer_id")], errors="ignore"
        )
        support = support.merge(features, on="customer_id", how="left")
        if unseen_only:
            support = support[validation_part(support["customer_id"])].reset_index(drop=True)
        if not support["called"].any():
            raise DataError(f"campaign {tasks['campaign_id'].iat[0]}: no call on its support")
        names.append(str(tasks["campaign_id"].iat[0]))
        parts.append(_choices(support, models, outcome_model).assign(campaign_id=names[-1]))
    support = pd.concat(parts, ignore_index=True)
    gamma = support["gamma"].to_numpy()
    customers = support["customer_id"].to_numpy()  # one customer, several campaigns
    values = {
        rule: off_policy.policy_value(
            rule,
            gamma,
            support[f"chosen: {rule}"].to_numpy(),
            clusters=customers,
            support=support,
        )
        for rule in (*models, CHURN_RISK, THE_LISTS)
    }
    keep = ["customer_id", "campaign_id", "called", "propensity", "churned", "gamma"]
    return LoggedValues(
        support[keep + [c for c in support if c.startswith("chosen: ")]], values, tuple(names)
    )


def _choices(support: pd.DataFrame, models: dict, outcome_model: UpliftModel) -> pd.DataFrame:
    """One campaign's Γ and each rule's calls: as many as the campaign made there (the
    campaign's own rules: their picks, as many as they were)."""
    calls = int(support["called"].sum())
    support = support.assign(
        gamma=off_policy.dr_scores(
            support,
            outcome_model.churn_if_not_called(support),
            outcome_model.churn_if_called(support),
        )
    )
    chosen = {
        f"chosen: {name}": off_policy.top_calls(model.predict_uplift(support), calls)
        for name, model in models.items()
    }
    chosen[f"chosen: {CHURN_RISK}"] = off_policy.top_calls(support["churn_probability"], calls)
    # The rules' own picks, called or held out (not the slice's draws, and not "who was
    # called", which depends on the draw and is not a rule).
    explored = support.get("exploration", pd.Series(False, index=support.index))
    picks = (support["action"] == RETENTION_CALLBACK) & ~explored.astype(bool)
    chosen[f"chosen: {THE_LISTS}"] = picks.to_numpy()
    return support.assign(**chosen)


def promote_uplift(bank, config: RetainConfig, campaign_dirs) -> registry.Decision:
    """Value champion and challenger on the logged campaigns; promote the challenger unless
    it keeps fewer customers per 1,000 calls beyond `training.uplift_promotion_tolerance`;
    record the decision with the figures and their intervals."""
    versions = {
        alias: registry.version_by_alias(UPLIFT_MODEL, alias) for alias in (CHAMPION, CHALLENGER)
    }
    tolerance = config.training.uplift_promotion_tolerance
    if versions[CHAMPION] == versions[CHALLENGER]:
        decision = registry.Decision(
            UPLIFT_MODEL,
            versions[CHAMPION],
            versions[CHALLENGER],
            np.nan,
            np.nan,
            tolerance,
            False,
            "the challenger already is the champion",
            METRIC,
        )
        registry.apply(decision, "none (one version)")
        return decision
    models = {alias: _load(version) for alias, version in versions.items()}
    logged = logged_values(bank, config, campaign_dirs, models, models[CHAMPION])
    champion, challenger = logged.values[CHAMPION], logged.values[CHALLENGER]
    difference = logged.difference(CHALLENGER, CHAMPION)
    promoted = difference.difference >= -tolerance
    reason = (
        f"challenger v{versions[CHALLENGER]} keeps {_figure(challenger)}, champion "
        f"v{versions[CHAMPION]} {_figure(champion)} customers per 1,000 calls (difference "
        f"{_difference_text(difference)}; churn risk "
        f"{_figure(logged.values[CHURN_RISK])}), "
        f"doubly-robust estimate on {champion.support:,} customers of "
        f"{', '.join(logged.campaigns)} no uplift model was fitted on (the support stops at "
        "each campaign's last call, which favours the model that made the list): "
        f"{'not worse' if promoted else 'worse'} beyond the tolerance {tolerance:g}"
    )
    decision = registry.Decision(
        UPLIFT_MODEL,
        versions[CHAMPION],
        versions[CHALLENGER],
        champion.retained_per_1000_calls,
        challenger.retained_per_1000_calls,
        tolerance,
        promoted,
        reason,
        METRIC,
    )
    registry.apply(decision, f"campaigns {', '.join(logged.campaigns)}")
    return decision


def _figure(value: off_policy.PolicyValue) -> str:
    if np.isnan(value.ci_low):
        return (
            f"{value.retained_per_1000_calls:.1f} (no interval: "
            f"{value.effective_customers:.0f} effective customers)"
        )
    return f"{value.retained_per_1000_calls:.1f} [{value.ci_low:.1f}, {value.ci_high:.1f}]"


def _difference_text(value: off_policy.PolicyDifference) -> str:
    if np.isnan(value.ci_low):
        return (
            f"{value.difference:+.1f}, resting on {value.effective_customers:.0f} effective "
            f"customers, fewer than {off_policy.MIN_EFFECTIVE_CUSTOMERS}: inconclusive, "
            "no interval"
        )
    return (
        f"{value.difference:+.1f} [{value.ci_low:+.1f}, {value.ci_high:+.1f}] on "
        f"{value.effective_customers:.0f} effective customers"
    )


def _load(version: str) -> UpliftModel:
    uri = f"models:/{UPLIFT_MODEL}/{version}"
    try:
        return mlflow.pyfunc.load_model(uri).unwrap_python_model().model
    except mlflow.exceptions.MlflowException as error:
        raise DataError(
            f"{uri} could not be loaded from the registry configured: {error}"
        ) from None
