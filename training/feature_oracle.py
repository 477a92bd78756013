"""The feature-limited oracle: the best churn model Retain's features allow.

The oracle (the generator's own probability) knows what no feature shows: a customer's
frailty, the decision already taken to leave. A model fitted to the truth's probabilities
themselves (soft labels, LightGBM's `cross_entropy` objective) from only the features
Retain computes learns what those features can say about churn, without the noise of 0/1
outcomes: its ROC AUC is the ceiling given the features. Between it and the oracle lies
what the features cannot see; between the model and it, what the model failed to learn.

A normal run fits it on the run's own training rows and stops early on the validation
rows' truth (cheap, but with those rows' size); bench/quality.py fits it once on a large
bank of its own (another seed) and applies it to each judged bank's test rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.model import ModelSchema, predict

# Settings of a flexible model: soft labels carry no outcome noise, so trees may be larger
# than the churn model's. Not tuned on any seed.
FEATURE_ORACLE_PARAMS = {
    "objective": "cross_entropy",
    "metric": "cross_entropy",
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_child_samples": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "deterministic": True,
    "verbosity": -1,
}
MAX_TREES = 1000
EARLY_STOPPING_ROUNDS = 50


@dataclass(frozen=True)
class FeatureOracle:
    """A booster fitted to the truth's probabilities; `source` says on which rows."""

    booster: lgb.Booster
    schema: ModelSchema
    source: str

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return predict(self.booster, self.schema.matrix(frame))


def fit_feature_oracle(
    train: pd.DataFrame,
    train_probability: np.ndarray,
    valid: pd.DataFrame,
    valid_probability: np.ndarray,
    features: list[str],
    seed: int,
    source: str,
) -> FeatureOracle:
    """Fit the truth's probabilities from `features` on `train`, stopping early on `valid`.

    Args:
        train: feature rows to learn from.
        train_probability: the truth's probability per row of `train` (in [0, 1]).
        valid: later rows for early stopping; `valid_probability` their truth.
        features: the model inputs (the churn model's).
        seed: LightGBM's seed.
        source: where the rows come from, for the run's report.

    Raises:
        ValueError: If a probability is missing or outside [0, 1].
    """
    for name, values in (("train", train_probability), ("valid", valid_probability)):
        values = np.asarray(values, dtype="float64")
        if np.isnan(values).any() or (values < 0).any() or (values > 1).any():
            raise ValueError(f"feature oracle: {name} probabilities must be in [0, 1]")
    schema = ModelSchema.from_training(train, features)
    train_set = lgb.Dataset(schema.prepare(train), np.asarray(train_probability, dtype=float))
    valid_set = lgb.Dataset(
        schema.prepare(valid), np.asarray(valid_probability, dtype=float), reference=train_set
    )
    booster = lgb.train(
        FEATURE_ORACLE_PARAMS | {"seed": seed},
        train_set,
        num_boost_round=MAX_TREES,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    kept = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    return FeatureOracle(kept, schema, source)
