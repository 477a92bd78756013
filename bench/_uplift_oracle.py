"""The feature-limited uplift optimum: the best ranking Retain's features allow.

The truth's uplift of a customer depends on what no feature shows (frailty, a decision
already taken). A model fitted to the truth's uplift itself, from only the features Retain
computes, learns E[uplift | features]: ranking by it is the best any targeting built on
those features can do (the uplift counterpart of `training.feature_oracle`). Fitted on the
campaign day's customers, two folds each predicted by the model of the other, so no
customer is ranked by a model that saw its own truth. Settings of a flexible model, not
tuned on any seed (the labels carry no outcome noise).
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.feature_oracle import FEATURE_ORACLE_PARAMS
from training.model import ModelSchema, predict

# The churn feature oracle's flexible settings, for a real-valued target.
PARAMS = FEATURE_ORACLE_PARAMS | {"objective": "regression", "metric": "l2", "learning_rate": 0.05}
MAX_TREES, EARLY_STOPPING_ROUNDS = 2000, 50


def feature_limited_uplift(
    frame: pd.DataFrame, true_uplift: np.ndarray, features: list[str], seed: int
) -> np.ndarray:
    """Cross-fitted E[true uplift | features] for every row of `frame`."""
    rng = np.random.default_rng(seed)
    fold = rng.random(len(frame)) < 0.5
    predicted = np.empty(len(frame))
    for part in (fold, ~fold):
        train, target = frame[~part], true_uplift[~part]
        stop = rng.random(len(train)) < 0.2  # early stopping inside the training fold
        schema = ModelSchema.from_training(train, features)
        fit = lgb.Dataset(schema.prepare(train[~stop]), target[~stop])
        valid = lgb.Dataset(schema.prepare(train[stop]), target[stop], reference=fit)
        booster = lgb.train(
            PARAMS | {"seed": seed},
            fit,
            num_boost_round=MAX_TREES,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
        )
        predicted[part] = predict(
            booster, schema.matrix(frame[part]), num_iteration=booster.best_iteration
        )
    return predicted
