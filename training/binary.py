"""Fit a calibrated LightGBM binary model and its baselines on time-split frames."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from common.config import TrainingConfig
from training.model import BinaryModel, Calibration, ModelSchema


@dataclass(frozen=True)
class FitReport:
    """What the fit decided: trees kept by early stopping, weight of positives."""

    best_iteration: int
    positive_weight: float
    train_rows: int
    valid_rows: int
    tuned: dict | None = None  # LightGBM settings Optuna chose, when tuning was on


def positive_weight(labels: np.ndarray, rule: str) -> float:
    positives = max(float(labels.sum()), 1.0)
    negatives = float(len(labels)) - positives
    ratio = max(negatives / positives, 1.0)
    return {"none": 1.0, "sqrt_balanced": float(np.sqrt(ratio)), "balanced": ratio}[rule]


def lightgbm_params(config: TrainingConfig, weight: float) -> dict:
    """The LightGBM parameters every model of Retain trains with."""
    return {
        "objective": "binary",
        # Early stopping on AUC: positives are up-weighted in training, so the unweighted
        # validation log loss worsens as soon as scores sharpen (29 trees on 0.93 M rows);
        # ranking is what the trees must learn, calibration then fixes the probabilities.
        # Inner validation split of the demo bank: AUC 0.890 (402 trees) vs 0.882 (582).
        "metric": "auc",
        "learning_rate": config.lightgbm.learning_rate,
        "num_leaves": config.lightgbm.num_leaves,
        "min_child_samples": config.lightgbm.min_child_samples,
        "feature_fraction": config.lightgbm.feature_fraction,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": config.lightgbm.lambda_l2,
        "scale_pos_weight": weight,
        "seed": config.seed,
        "deterministic": True,
        "num_threads": 2,
        "verbosity": -1,
    }


def fit_lightgbm(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    label: str,
    features: list[str],
    config: TrainingConfig,
) -> tuple[BinaryModel, FitReport]:
    """LightGBM with native categoricals, early stopping on the validation period, then a
    calibration fitted on that same later period (never on training rows)."""
    schema = ModelSchema.from_training(train, features)
    y_train = train[label].to_numpy(dtype=float)
    y_valid = valid[label].to_numpy(dtype=float)
    weight = positive_weight(y_train, config.positive_weight)
    # Tuning varies min_data_in_leaf on one Dataset: LightGBM must not pre-filter features.
    dataset_params = {"feature_pre_filter": False} if config.tuning_seconds > 0 else None
    train_set = lgb.Dataset(
        schema.prepare(train), y_train, free_raw_data=False, params=dataset_params
    )
    valid_set = lgb.Dataset(schema.prepare(valid), y_valid, reference=train_set)
    tuned = None
    if config.tuning_seconds > 0:
        tuned = tune_lightgbm(train_set, valid_set, config, weight)
        config = config.model_copy(update={"lightgbm": config.lightgbm.model_copy(update=tuned)})
    params = lightgbm_params(config, weight)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.lightgbm.max_trees,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(config.lightgbm.early_stopping_rounds, verbose=False)],
    )
    booster.free_dataset()
    raw_valid = booster.predict(schema.prepare(valid), num_iteration=booster.best_iteration)
    calibration = fit_calibration(raw_valid, y_valid, config.calibration)
    model = BinaryModel(_keep_best(booster), calibration, schema)
    return model, FitReport(booster.best_iteration, weight, len(train), len(valid), tuned)


def fit_calibration(raw_scores: np.ndarray, labels: np.ndarray, method: str) -> Calibration:
    """Isotonic regression from raw scores to probabilities (`isotonic`), else Platt
    scaling of the scores' log-odds (`platt`); fitted on a period the trees never saw."""
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(raw_scores, labels)
        return Calibration(
            "isotonic",
            tuple(map(float, iso.X_thresholds_)),
            tuple(map(float, iso.y_thresholds_)),
        )
    logit = np.log(np.clip(raw_scores, 1e-7, 1 - 1e-7) / (1 - np.clip(raw_scores, 1e-7, 1 - 1e-7)))
    platt = LogisticRegression(C=1e6).fit(logit.reshape(-1, 1), labels)
    return Calibration(
        "platt", slope=float(platt.coef_[0, 0]), intercept=float(platt.intercept_[0])
    )


def tune_lightgbm(
    train_set: lgb.Dataset, valid_set: lgb.Dataset, config: TrainingConfig, weight: float
) -> dict:
    """Optuna (TPE) search of the tree settings within `config.tuning_seconds`, scored by
    the validation period's AUC at its early-stopping point. The test period is never seen,
    so the test metrics stay honest; the configured settings are the first trial, so
    tuning can only keep or beat them on validation."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = config.lightgbm

    def objective(trial: optuna.Trial) -> float:
        candidate = {
            "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 10, 500, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.3, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 100.0, log=True),
        }
        trial_config = config.model_copy(update={"lightgbm": start.model_copy(update=candidate)})
        booster = lgb.train(
            lightgbm_params(trial_config, weight),
            train_set,
            num_boost_round=start.max_trees,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(start.early_stopping_rounds, verbose=False)],
        )
        return float(booster.best_score["valid_0"]["auc"])

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed)
    )
    study.enqueue_trial(
        {
            "num_leaves": start.num_leaves,
            "learning_rate": start.learning_rate,
            "min_child_samples": start.min_child_samples,
            "feature_fraction": start.feature_fraction,
            "lambda_l2": start.lambda_l2,
        }
    )
    study.optimize(objective, timeout=config.tuning_seconds)
    return dict(study.best_params)


def _keep_best(booster: lgb.Booster) -> lgb.Booster:
    """A booster holding only the trees early stopping kept."""
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))


# A linear model of ~100 inputs has learnt what it can from a quarter of a million rows; more
# only costs time (with the sample, the baselines take 9.7 s of a 163 s run on 0.93 M rows).
LOGISTIC_MAX_ROWS = 250_000


def fit_logistic_baseline(
    train: pd.DataFrame, label: str, features: list[str], seed: int
) -> Pipeline:
    """Logistic regression on the same features: imputed, scaled, categoricals one-hot;
    fitted on a random sample of `LOGISTIC_MAX_ROWS` rows when training is larger."""
    if len(train) > LOGISTIC_MAX_ROWS:
        train = train.sample(LOGISTIC_MAX_ROWS, random_state=seed)
    categorical = [name for name in features if isinstance(train[name].dtype, pd.CategoricalDtype)]
    numeric = [name for name in features if name not in categorical]
    prepare = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()
                ),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(
                        strategy="constant", fill_value="missing", keep_empty_features=True
                    ),
                    OneHotEncoder(handle_unknown="ignore", min_frequency=20),
                ),
                categorical,
            ),
        ]
    )
    model = make_pipeline(prepare, LogisticRegression(max_iter=2000, C=0.5, random_state=seed))
    frame = train[features].copy()
    for name in categorical:
        frame[name] = frame[name].astype("object")
    model.fit(frame, train[label].to_numpy(dtype=int))
    return model


def logistic_scores(model: Pipeline, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    data = frame[features].copy()
    for name in data:
        if isinstance(data[name].dtype, pd.CategoricalDtype):
            data[name] = data[name].astype("object")
    return model.predict_proba(data)[:, 1]


@dataclass(frozen=True)
class RuleBaseline:
    """A one-feature rule a retention team might use without a model; its scores become
    probabilities through the churn rate of each score decile on the training period."""

    feature: str
    edges: tuple[float, ...]
    rates: tuple[float, ...]

    @classmethod
    def fit(cls, train: pd.DataFrame, label: str, feature: str) -> RuleBaseline:
        scores = cls._score(train, feature)
        edges = tuple(np.unique(np.quantile(scores, np.linspace(0.1, 0.9, 9))))
        bins = np.searchsorted(edges, scores, side="right")
        labels = train[label].to_numpy(dtype=float)
        overall = labels.mean()
        rates = tuple(
            float(labels[bins == b].mean()) if (bins == b).any() else overall
            for b in range(len(edges) + 1)
        )
        return cls(feature, edges, rates)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        bins = np.searchsorted(self.edges, self._score(frame, self.feature), side="right")
        return np.asarray(self.rates)[bins]

    @staticmethod
    def _score(frame: pd.DataFrame, feature: str) -> np.ndarray:
        # Never seen = as inactive as can be.
        return frame[feature].astype("float64").fillna(1e6).to_numpy()
