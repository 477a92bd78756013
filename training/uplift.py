"""Whom does a call keep? An uplift model of churn from a campaign's randomised groups.

A churn score ranks customers by how likely they are to leave; many of the likeliest
leave whatever is done, and a few leave *because* they were called. The uplift model
estimates, per customer, how much a retention call lowers the 90-day churn probability:

    uplift(x) = P(churn | x, not called) − P(churn | x, called)

Two models with a shared baseline (a two-model learner in which the "not called" side is
the churn model itself): the churn champion, trained on many months in which nobody was
called by a campaign, gives P(churn | x, not called); a small LightGBM fitted on the
customers the campaign called learns how a call shifts the log-odds from that baseline
(the baseline is its `init_score`). With a few hundred churners among the called, two
separate churn models (one per group) differ mostly by noise: on the demo's banks their
uplift ranked customers worse than churn risk in 5 of 6 comparisons, the shift model
better from 800 calls on (docs/evaluation.md has the figures).

The model is judged on a part of the randomised list it never saw (30 %, by a hash of the
customer id), where the holdout is the comparison: Qini coefficient, AUUC and uplift in the
top 10/20/30 % (`evaluation.uplift_metrics`), against ranking by churn risk and, on the
synthetic bank, against the truth's own uplift (the limit). Tracked in MLflow and
registered as `retain-uplift-churn` like the other models.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import partial

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd

from common.config import RetainConfig
from common.errors import DataError
from common.names import CHAMPION, CHURN_MODEL, HOLDOUT, NOT_LISTED, TREATMENT, UPLIFT_MODEL
from evaluation import uplift_metrics
from features.definitions import LABEL_CHURN
from training import tracking
from training.model import BinaryModel, Calibration, ModelSchema, UpliftModel, log_odds
from training.model import UpliftPyfunc as UpliftPyfunc  # what models logged before load
from training.model_logging import register_uplift_model
from training.model_run import RunRecord, log_and_register

GROUP = "group"
VALIDATION_SHARE = 0.3
TOP_SHARES = (0.1, 0.2, 0.3)
# The shift model is small and slow on purpose: a few hundred churners among the called
# support little more than the main effects. Chosen on the demo bank (seed 42) among
# 2-8 leaves, 30-400 rounds; checked on another seed (docs/quality.md).
SHIFT_PARAMS = {
    "objective": "binary",
    "num_leaves": 3,
    "min_child_samples": 500,
    "learning_rate": 0.03,
    "lambda_l2": 10.0,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "deterministic": True,
    "verbosity": -1,
}
SHIFT_ROUNDS = 100


@dataclass(frozen=True)
class UpliftResult:
    """A fitted uplift model, its validation figures and where MLflow keeps it."""

    model: UpliftModel
    metrics: dict[str, float]
    rows: dict[str, int]
    qini_curves: dict[str, tuple[np.ndarray, np.ndarray]]
    run_id: str | None = None
    version: str | None = None
    aliases: tuple[str, ...] = ()


def validation_part(customer_ids: pd.Series, share: float = VALIDATION_SHARE) -> np.ndarray:
    """Stable split of the randomised list: a hash of the customer id decides."""
    draws = [
        int.from_bytes(hashlib.sha256(f"uplift:{c}".encode()).digest()[:8], "big") / 2**64
        for c in customer_ids
    ]
    return np.asarray(draws) < share


def train_uplift(
    campaign: pd.DataFrame,
    features: list[str],
    baseline: BinaryModel,
    config: RetainConfig,
    campaign_id: str,
    register: bool = True,
) -> UpliftResult:
    """Fit and validate the uplift model on one campaign.

    Args:
        campaign: one row per customer with the model features, `group` (`treatment`,
            `holdout` or `not_listed`), `label_churn` (churned within the horizon after
            the campaign), `churn_probability` (the risk score the campaign used) and,
            on the synthetic bank, `true_uplift`.
        features: model feature columns of the shift model.
        baseline: the churn model the campaign used (churn without a call).
        config: tracking.
        campaign_id: recorded with the run.
        register: log to MLflow and register `retain-uplift-churn`.

    Raises:
        DataError: a group is missing or too small to learn from.
    """
    frame = campaign[campaign[LABEL_CHURN].notna()].reset_index(drop=True)
    listed = frame[GROUP].isin([TREATMENT, HOLDOUT]).to_numpy()
    held_back = validation_part(frame["customer_id"]) & listed
    called = frame[(frame[GROUP] == TREATMENT).to_numpy() & ~held_back]
    for group in (TREATMENT, HOLDOUT):
        rows = frame[frame[GROUP] == group]
        events = int(rows[LABEL_CHURN].sum())
        if len(rows) < 200 or events < 10:
            raise DataError(
                f"campaign {campaign_id}: {group} customers with a known outcome: "
                f"{len(rows):,} ({events} churned); an uplift model needs at least 200 and "
                "10 churners in each group (a wider test-and-learn list or a larger holdout)"
            )
    untreated = frame[(frame[GROUP] == HOLDOUT).to_numpy() & ~held_back]
    level = _level(baseline, untreated)
    model = UpliftModel(baseline, _fit_shift(called, baseline, level, features), level)

    valid = frame[held_back]
    retained = 1.0 - valid[LABEL_CHURN].to_numpy(dtype=float)
    in_treatment = (valid[GROUP] == TREATMENT).to_numpy()
    scores = {"uplift model": model.predict_uplift(valid)}
    if "churn_probability" in valid:
        scores["churn risk"] = valid["churn_probability"].to_numpy(dtype=float)
    if "true_uplift" in valid:
        scores["truth"] = valid["true_uplift"].to_numpy(dtype=float)
    metrics: dict[str, float] = {}
    curves = {}
    for name, score in scores.items():
        key = name.replace(" ", "_")
        metrics[f"qini_{key}"] = uplift_metrics.qini_coefficient(retained, in_treatment, score)
        metrics[f"auuc_{key}"] = uplift_metrics.auuc(retained, in_treatment, score)
        for share in TOP_SHARES:
            metrics[f"uplift_at_{int(share * 100)}_{key}"] = uplift_metrics.uplift_at_k(
                retained, in_treatment, score, share
            )
        curves[name] = uplift_metrics.qini_curve(retained, in_treatment, score)
    rows = {
        "treated_fit": len(called),
        "validation": len(valid),
        "unknown_outcome": len(campaign) - len(frame),
    }
    result = UpliftResult(model, metrics, rows, curves)
    if register:
        result = _log_and_register(result, valid, config, campaign_id)
    return result


def _level(baseline: BinaryModel, untreated: pd.DataFrame) -> float:
    """The log-odds constant that makes the baseline's mean churn on the holdout equal the
    holdout's churn over the campaign's horizon."""
    from scipy.optimize import brentq

    baseline_log_odds = log_odds(baseline.predict_proba(untreated))
    observed = float(untreated[LABEL_CHURN].mean())

    def gap(level: float) -> float:
        return float(np.mean(1 / (1 + np.exp(-(baseline_log_odds + level))))) - observed

    # Bounded: a holdout without churners (or only churners) does not send it to infinity.
    if gap(-3.0) >= 0:
        return -3.0
    if gap(3.0) <= 0:
        return 3.0
    return float(brentq(gap, -3.0, 3.0))


def _fit_shift(
    called: pd.DataFrame, baseline: BinaryModel, level: float, features: list[str]
) -> BinaryModel:
    """LightGBM on the called customers' outcomes, starting from the (levelled) baseline's
    log-odds."""
    schema = ModelSchema.from_training(called, features)
    start = log_odds(baseline.predict_proba(called)) + level
    data = lgb.Dataset(
        schema.prepare(called), called[LABEL_CHURN].to_numpy(dtype=float), init_score=start
    )
    booster = lgb.train(SHIFT_PARAMS, data, num_boost_round=SHIFT_ROUNDS)
    return BinaryModel(booster, Calibration("platt"), schema)


def _log_and_register(
    result: UpliftResult, valid: pd.DataFrame, config: RetainConfig, campaign_id: str
) -> UpliftResult:
    params = {
        "campaign_id": campaign_id,
        "learner": "churn baseline + LightGBM log-odds shift on the called",
        "shift_rounds": SHIFT_ROUNDS,
        "baseline_level": result.model.level,
        **{f"shift_{k}": v for k, v in SHIFT_PARAMS.items()},
        **{f"rows_{k}": v for k, v in result.rows.items()},
    }
    record = RunRecord(
        run_name="uplift-churn",
        model_name=UPLIFT_MODEL,
        params=params,
        metrics={k: v for k, v in result.metrics.items() if np.isfinite(v)},
    )
    registration = log_and_register(
        record, config.training, partial(register_uplift_model, result.model, valid, UPLIFT_MODEL)
    )
    return replace(
        result,
        run_id=registration.run_id,
        version=registration.version,
        aliases=tuple(registration.aliases),
    )


def train_from_campaign(bank, config: RetainConfig, campaign_dir, register: bool = True):
    """Fit the uplift model on a campaign `retain score` wrote to `campaign_dir`, with the
    outcomes a later extract (`bank`) shows over its horizon; the baseline is the churn
    model version that scored the campaign (from the lists' `versions`).

    Raises:
        DataError: no campaign lists there, or the extract ends before the horizon.
    """
    from evaluation.programme import campaign_files, campaign_outcomes, read_truth

    tasks, scores, as_of = campaign_files(campaign_dir, bank, config)
    campaign = campaign_outcomes(bank, as_of, config)
    campaign = campaign.merge(tasks[["customer_id", GROUP]], on="customer_id", how="left")
    campaign = campaign.merge(
        scores[["customer_id", "churn_probability"]], on="customer_id", how="left"
    )
    campaign[GROUP] = campaign[GROUP].fillna(NOT_LISTED)
    truth = read_truth(bank.data_dir, as_of, config.features) if bank.data_dir else None
    if truth is not None:
        campaign = campaign.merge(truth, on="customer_id", how="left")
        campaign["true_uplift"] = campaign["p_churn_90d"] - campaign["p_churn_90d_if_called"]
    version = json.loads(tasks["versions"].iat[0]).get(CHURN_MODEL)
    baseline = _churn_model(config, version)
    from features.definitions import feature_names

    campaign_id = str(tasks["campaign_id"].iat[0])
    return train_uplift(
        campaign, feature_names(config.features), baseline, config, campaign_id, register
    )


def _churn_model(config: RetainConfig, version: str | None) -> BinaryModel:
    """The churn model that scored the campaign (its version), else today's champion."""
    tracking.use_tracking(config.training.tracking_uri, config.training.experiment)
    uri = f"models:/{CHURN_MODEL}/{version}" if version else f"models:/{CHURN_MODEL}@{CHAMPION}"
    try:
        return mlflow.pyfunc.load_model(uri).unwrap_python_model().model
    except mlflow.exceptions.MlflowException:
        raise DataError(
            f"the churn model that scored the campaign ({uri}) is not in the MLflow registry "
            "configured: point MLFLOW_TRACKING_URI at the registry the campaign used"
        ) from None
