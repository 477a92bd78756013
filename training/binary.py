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
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
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
    calibration: str = "isotonic"  # the calibration used (several: "isotonic 7, platt 3")
    calibration_cv_log_loss: dict | None = None  # per method, when `auto` chose


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
        # No num_threads: OpenMP's own default (every core, or OMP_NUM_THREADS), so
        # processes sharing a machine can each be given their share: two fits of two
        # threads each on two cores took 18x as long as two of one (bench/threads.py).
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
    calibration, choice = choose_calibration(raw_valid, y_valid, config.calibration, config.seed)
    model = BinaryModel(_keep_best(booster), calibration, schema)
    return model, FitReport(
        booster.best_iteration,
        weight,
        len(train),
        len(valid),
        tuned,
        choice.method,
        choice.cv_log_loss,
    )


@dataclass(frozen=True)
class CalibrationChoice:
    """Which calibration a model got, and on what evidence."""

    method: str  # isotonic or platt
    cv_log_loss: dict[str, float] | None = None  # per method, when `auto` compared them
    note: str = ""


def describe_calibration(fit: FitReport) -> str:
    """The calibration a fit used, and the evidence when `auto` chose it."""
    if not fit.calibration_cv_log_loss:
        return f"{fit.calibration} (bounded)"
    losses = ", ".join(
        f"{method} {loss:.4f}" for method, loss in fit.calibration_cv_log_loss.items()
    )
    return (
        f"{fit.calibration} (bounded), chosen by auto: {CALIBRATION_FOLDS}-fold cross-validated "
        f"log loss in the validation period {losses}"
    )


# Folds of the validation period over which `auto` compares the two calibrations.
CALIBRATION_FOLDS = 5


def choose_calibration(
    raw_scores: np.ndarray, labels: np.ndarray, setting: str, seed: int
) -> tuple[Calibration, CalibrationChoice]:
    """The calibration `setting` asks for; with `auto`, whichever of bounded isotonic and
    Platt has the lower log loss in a stratified `CALIBRATION_FOLDS`-fold cross-validation
    inside the validation period (the test period is never seen). Isotonic wins ties.
    With fewer than two positives (or negatives) there is nothing to cross-validate:
    Platt, which has two parameters to isotonic's one per step."""
    if setting != "auto":
        return fit_calibration(raw_scores, labels, setting), CalibrationChoice(setting)
    smaller_class = int(min(labels.sum(), len(labels) - labels.sum()))
    if smaller_class < 2:
        note = f"{smaller_class} of the smaller class in validation: no cross-validation"
        return fit_calibration(raw_scores, labels, "platt"), CalibrationChoice("platt", None, note)
    folds = StratifiedKFold(min(CALIBRATION_FOLDS, smaller_class), shuffle=True, random_state=seed)
    losses = {"isotonic": 0.0, "platt": 0.0}
    for fit_rows, held_rows in folds.split(raw_scores.reshape(-1, 1), labels):
        for method in losses:
            calibration = fit_calibration(raw_scores[fit_rows], labels[fit_rows], method)
            predicted = calibration.apply(raw_scores[held_rows])
            losses[method] += len(held_rows) * log_loss(labels[held_rows], predicted, labels=[0, 1])
    losses = {method: total / len(labels) for method, total in losses.items()}
    method = "isotonic" if losses["isotonic"] <= losses["platt"] else "platt"
    return fit_calibration(raw_scores, labels, method), CalibrationChoice(method, losses)


def fit_calibration(raw_scores: np.ndarray, labels: np.ndarray, method: str) -> Calibration:
    """Bounded isotonic regression from raw scores to probabilities (`isotonic`), else
    Platt scaling of the scores' log-odds (`platt`); fitted on a period the trees never saw.

    Neither ever says 0 or 1: a step of isotonic regression with no churner among its n
    customers means "under about 1 in n", not "never". The lowest step is kept at or above
    1 / (n_lowest + 2) and the highest at or below 1 − 1 / (n_highest + 2) (Laplace's rule
    of succession on the rows of the end steps); Platt's curve within 1 / (n + 2) of 0 and
    1 for n validation rows.
    """
    labels = np.asarray(labels, dtype=float)
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        fitted = iso.fit(raw_scores, labels).predict(raw_scores)
        lower = 1 / (int((fitted == fitted.min()).sum()) + 2)
        upper = 1 - 1 / (int((fitted == fitted.max()).sum()) + 2)
        return Calibration(
            "isotonic",
            tuple(map(float, iso.X_thresholds_)),
            tuple(map(float, np.clip(iso.y_thresholds_, lower, upper))),
            lower=lower,
            upper=upper,
        )
    if method != "platt":
        raise ValueError(f"calibration: expected auto, isotonic or platt, got {method!r}")
    clipped = np.clip(raw_scores, 1e-7, 1 - 1e-7)
    logit = np.log(clipped / (1 - clipped))
    platt = LogisticRegression(C=1e6).fit(logit.reshape(-1, 1), labels)
    bound = 1 / (len(labels) + 2)
    return Calibration(
        "platt",
        slope=float(platt.coef_[0, 0]),
        intercept=float(platt.intercept_[0]),
        lower=bound,
        upper=1 - bound,
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
