"""Uplift learners on randomised campaign arms, each given the same rows and settings.

Every learner estimates, per customer, how much a retention call lowers the churn
probability over the campaign's horizon, τ(x) = μ0(x) − μ1(x) with μ0 the churn
probability not called and μ1 called. They share what a bank knows for certain:

- the churn champion's log-odds (trained on months without campaign calls), brought to the
  campaign period's level, as the starting point of every outcome model (its
  `init_score`): the arms' few hundred churners then only have to teach a correction;
- the design's assignment probability (the share called among the listed), known
  exactly, so no propensity model is fitted.

Learners (`LEARNERS`):

- `shift`: today's design, an offset model on the called only; the not-called side is the
  levelled baseline itself.
- `symmetric`: an offset model on each arm, both from the baseline (a two-model learner
  whose models share the baseline).
- `x_learner`: Künzel et al. (2019): each arm's outcomes against the other arm's model give
  imputed effects, one effect model per arm, mixed by the assignment probability.
- `r_learner`: Nie & Wager (2021): residuals of the outcome on the marginal outcome model
  and of the assignment on its probability; the effect minimises the R-loss (weighted
  regression on the residual ratio).
- `dr_learner`: Kennedy (2023): the doubly-robust (AIPW) pseudo-outcome regressed on the
  features.

The outcome nuisances of X, R and DR are cross-fitted (`FOLDS` folds): a row's pseudo-outcome
never uses a model that saw its own outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.model import ModelSchema, predict

FOLDS = 5


@dataclass(frozen=True)
class LearnerSettings:
    """LightGBM settings shared by every sub-model of every learner."""

    num_leaves: int = 3
    min_child_samples: int = 500
    learning_rate: float = 0.03
    rounds: int = 100
    lambda_l2: float = 10.0

    def params(self, objective: str) -> dict:
        return {
            "objective": objective,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "learning_rate": self.learning_rate,
            "lambda_l2": self.lambda_l2,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "deterministic": True,
            "verbosity": -1,
        }


@dataclass(frozen=True)
class Arms:
    """The listed customers of one or more randomised campaigns.

    Attributes:
        frame: model features, one row per listed customer.
        called: True for the treatment arm.
        churned: 1.0 if the customer left within the horizon.
        propensity: the design's probability of being called (1 − holdout share).
        start: log-odds of churn if not called from the levelled baseline.
    """

    frame: pd.DataFrame
    called: np.ndarray
    churned: np.ndarray
    propensity: np.ndarray
    start: np.ndarray

    def take(self, rows: np.ndarray) -> Arms:
        return Arms(
            self.frame[rows].reset_index(drop=True),
            self.called[rows],
            self.churned[rows],
            self.propensity[rows],
            self.start[rows],
        )


@dataclass(frozen=True)
class Booster:
    """A fitted LightGBM model with the schema that prepares its input."""

    booster: lgb.Booster
    schema: ModelSchema

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        return predict(self.booster, self.schema.matrix(frame), raw_score=True)


def fit_offset(
    arms: Arms, rows: np.ndarray, features: list[str], settings: LearnerSettings
) -> Booster:
    """A churn model of `rows` that starts from the baseline's log-odds: its raw score is
    the correction to add to them."""
    part = arms.frame[rows]
    schema = ModelSchema.from_training(part, features)
    data = lgb.Dataset(schema.prepare(part), arms.churned[rows], init_score=arms.start[rows])
    booster = lgb.train(settings.params("binary"), data, num_boost_round=settings.rounds)
    return Booster(booster, schema)


def fit_effect(
    frame: pd.DataFrame,
    target: np.ndarray,
    features: list[str],
    settings: LearnerSettings,
    weight: np.ndarray | None = None,
) -> Booster:
    """A regression of an (imputed or pseudo-) effect on the features."""
    schema = ModelSchema.from_training(frame, features)
    data = lgb.Dataset(schema.prepare(frame), target, weight=weight)
    booster = lgb.train(settings.params("regression"), data, num_boost_round=settings.rounds)
    return Booster(booster, schema)


def _sigmoid(log_odds: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-log_odds))


@dataclass(frozen=True)
class OffsetUplift:
    """τ = σ(start + control) − σ(start + treated); a missing control offset is zero."""

    treated: Booster
    control: Booster | None = None

    def predict(self, frame: pd.DataFrame, start: np.ndarray) -> np.ndarray:
        control = self.control.raw(frame) if self.control else 0.0
        return _sigmoid(start + control) - _sigmoid(start + self.treated.raw(frame))


@dataclass(frozen=True)
class EffectUplift:
    """τ = Σ weightᵢ · effectᵢ(x): effect models fitted on the probability scale."""

    effects: tuple[tuple[float, Booster], ...]

    def predict(self, frame: pd.DataFrame, start: np.ndarray) -> np.ndarray:
        return sum(weight * model.raw(frame) for weight, model in self.effects)


def fit_shift(arms: Arms, features: list[str], settings: LearnerSettings) -> OffsetUplift:
    return OffsetUplift(fit_offset(arms, arms.called, features, settings))


def fit_symmetric(arms: Arms, features: list[str], settings: LearnerSettings) -> OffsetUplift:
    return OffsetUplift(
        fit_offset(arms, arms.called, features, settings),
        fit_offset(arms, ~arms.called, features, settings),
    )


def cross_fitted_outcomes(
    arms: Arms, features: list[str], settings: LearnerSettings, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold μ0 and μ1 for every row: each fold's rows are predicted by offset models
    fitted on the other folds' arms."""
    fold = np.random.default_rng(seed).integers(0, FOLDS, len(arms.called))
    not_called, called = np.empty(len(fold)), np.empty(len(fold))
    for k in range(FOLDS):
        inside, outside = fold == k, fold != k
        part = arms.frame[inside]
        for arm_called, out in ((False, not_called), (True, called)):
            model = fit_offset(arms, outside & (arms.called == arm_called), features, settings)
            out[inside] = _sigmoid(arms.start[inside] + model.raw(part))
    return not_called, called


def fit_x_learner(arms: Arms, features: list[str], settings: LearnerSettings) -> EffectUplift:
    """Imputed effects per arm (each arm's outcome against the other arm's cross-fitted
    model), an effect model per arm, mixed as e·τ₀ + (1 − e)·τ₁ (Künzel et al. 2019)."""
    mu0, mu1 = cross_fitted_outcomes(arms, features, settings)
    treated, control = arms.called, ~arms.called
    effect_treated = fit_effect(
        arms.frame[treated], mu0[treated] - arms.churned[treated], features, settings
    )
    effect_control = fit_effect(
        arms.frame[control], arms.churned[control] - mu1[control], features, settings
    )
    share = float(np.mean(arms.propensity))
    return EffectUplift(((share, effect_control), (1 - share, effect_treated)))


def fit_r_learner(arms: Arms, features: list[str], settings: LearnerSettings) -> EffectUplift:
    """Minimise Σ ((Y − m(x)) − (W − e)·τ_churn(x))², as a regression of
    (Y − m) / (W − e) weighted by (W − e)²; m = e·μ1 + (1 − e)·μ0 from the cross-fitted arms
    (Nie & Wager 2021). τ = −τ_churn: a call's fall in churn."""
    mu0, mu1 = cross_fitted_outcomes(arms, features, settings)
    e = arms.propensity
    marginal = e * mu1 + (1 - e) * mu0
    assignment = arms.called.astype(float) - e
    target = -(arms.churned - marginal) / assignment
    effect = fit_effect(arms.frame, target, features, settings, weight=assignment**2)
    return EffectUplift(((1.0, effect),))


def fit_dr_learner(arms: Arms, features: list[str], settings: LearnerSettings) -> EffectUplift:
    """Regress the AIPW pseudo-outcome μ0 − μ1 + (1 − W)(Y − μ0)/(1 − e) − W(Y − μ1)/e on
    the features (Kennedy 2023)."""
    mu0, mu1 = cross_fitted_outcomes(arms, features, settings)
    e, w, y = arms.propensity, arms.called.astype(float), arms.churned
    pseudo = mu0 - mu1 + (1 - w) * (y - mu0) / (1 - e) - w * (y - mu1) / e
    return EffectUplift(((1.0, fit_effect(arms.frame, pseudo, features, settings)),))


Learner = Callable[[Arms, list[str], LearnerSettings], OffsetUplift | EffectUplift]
LEARNERS: dict[str, Learner] = {
    "shift": fit_shift,
    "symmetric": fit_symmetric,
    "x_learner": fit_x_learner,
    "r_learner": fit_r_learner,
    "dr_learner": fit_dr_learner,
}
