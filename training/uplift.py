"""Whom does a call keep? An uplift model of churn from a campaign's randomised groups.

A churn score ranks customers by how likely they are to leave; many of the likeliest
leave whatever is done, and a few leave *because* they were called. The uplift model
estimates, per customer, how much a retention call lowers the 90-day churn probability:

    uplift(x) = P(churn | x, not called) − P(churn | x, called)

Two models with a shared baseline (a two-model learner in which the "not called" side is
the churn model itself): the churn champion, trained on many months in which nobody was
called by a campaign, gives P(churn | x, not called); a small LightGBM fitted on the
customers the campaign called learns how a call shifts the log-odds from that baseline
(the baseline is its `init_score`). The holdout brings the baseline to the campaign
period's level. Campaigns are pooled: each one's called customers start from the baseline
that scored it, at its own level, so every campaign a bank runs adds to what the model
learns. `bench/uplift_learners.py` compared this learner with a symmetric two-offset
design, cross-fitted X-, R- and DR-learners (`training.uplift_learners`) and causalml's
meta-learners, all on the same rows and settings: it kept the most customers per call on
both tuning banks (docs/evaluation.md has the table).

The model is judged on a part of the randomised list it never saw (30 %, by a hash of the
customer id), where the holdout is the comparison: Qini coefficient, AUUC and uplift in the
top 10/20/30 % (`evaluation.uplift_metrics`), against ranking by churn risk and, on the
synthetic bank, against the truth's own uplift (the limit). Tracked in MLflow and
registered as `retain-uplift-churn` like the other models.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from common.config import RetainConfig
from common.errors import DataError
from common.names import CHAMPION, CHURN_MODEL, HOLDOUT, NOT_LISTED, TREATMENT, UPLIFT_MODEL
from evaluation import uplift_metrics
from features.definitions import LABEL_CHURN
from training import tracking, uplift_learners
from training.model import BinaryModel, Calibration, UpliftModel, log_odds
from training.model import UpliftPyfunc as UpliftPyfunc  # what models logged before load
from training.model_logging import register_uplift_model
from training.model_run import RunRecord, log_and_register
from training.uplift_learners import Arms, LearnerSettings

GROUP = "group"
CAMPAIGN = "campaign_id"
VALIDATION_SHARE = 0.3
TOP_SHARES = (0.1, 0.2, 0.3)
BOOTSTRAP_DRAWS = 200
LEARNER = "shift"
# Chosen with `bench/uplift_learners.py --seeds 42 7` among Retain's five learners and
# causalml's four, each at three sizes: the shift at 7 leaves won on both seeds
# (docs/evaluation.md has the table).
SETTINGS = LearnerSettings(
    num_leaves=7, min_child_samples=200, learning_rate=0.03, rounds=200, lambda_l2=10.0
)


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
    campaigns: tuple[str, ...] = ()


def validation_part(customer_ids: pd.Series, share: float = VALIDATION_SHARE) -> np.ndarray:
    """Stable split of the randomised list: a hash of the customer id decides, so a
    customer of several campaigns is on the same side in all of them."""
    draws = [
        int.from_bytes(hashlib.sha256(f"uplift:{c}".encode()).digest()[:8], "big") / 2**64
        for c in customer_ids
    ]
    return np.asarray(draws) < share


def train_uplift(
    campaign: pd.DataFrame,
    features: list[str],
    baseline: BinaryModel | Mapping[str, BinaryModel],
    config: RetainConfig,
    campaign_id: str,
    register: bool = True,
) -> UpliftResult:
    """Fit and validate the uplift model on one campaign or several pooled.

    Args:
        campaign: one row per customer and campaign with the model features, `group`
            (`treatment`, `holdout`, `owed` or `not_listed`), `label_churn` (churned within
            the horizon after the campaign), `churn_probability` (the risk score the
            campaign used), optionally `campaign_id` (several campaigns pooled, in the
            order they ran) and, on the synthetic bank, `true_uplift`.
        features: model feature columns of the shift model.
        baseline: the churn model the campaign used (churn without a call), or one per
            campaign id.
        config: tracking.
        campaign_id: recorded with the run (without a `campaign_id` column, every row's).
        register: log to MLflow and register `retain-uplift-churn`.

    Raises:
        DataError: a group is missing or too small to learn from.
    """
    frame = campaign[campaign[LABEL_CHURN].notna()].reset_index(drop=True)
    if CAMPAIGN not in frame:
        frame[CAMPAIGN] = campaign_id
    frame = frame[frame[GROUP].isin([TREATMENT, HOLDOUT])].reset_index(drop=True)
    _check_groups(frame, campaign_id)
    campaigns = tuple(dict.fromkeys(frame[CAMPAIGN]))  # in the order they ran
    baselines = baseline if isinstance(baseline, Mapping) else dict.fromkeys(campaigns, baseline)
    held_back = validation_part(frame["customer_id"])
    levels, start = _levelled_baselines(frame, baselines, held_back)
    called = (frame[GROUP] == TREATMENT).to_numpy()
    # The shift learns from the called customers' outcomes only: the assignment probability
    # the other learners weigh by is not used (0.5 fills the field).
    arms = Arms(frame, called, frame[LABEL_CHURN].to_numpy(float), np.full(len(frame), 0.5), start)
    learnt = uplift_learners.fit_shift(arms.take(~held_back), features, SETTINGS)
    latest = campaigns[-1]  # a served prediction: the newest campaign's baseline and level
    shift = BinaryModel(learnt.treated.booster, Calibration("platt"), learnt.treated.schema)
    model = UpliftModel(baselines[latest], shift, levels[latest])

    valid = frame[held_back].reset_index(drop=True)
    predicted = learnt.predict(valid, start[held_back])
    metrics, curves = _validation(valid, predicted)
    rows = {
        "treated_fit": int((called & ~held_back).sum()),
        "validation": len(valid),
        "unknown_outcome": int(campaign[LABEL_CHURN].isna().sum()),
        "campaigns": len(campaigns),
    }
    result = UpliftResult(model, metrics, rows, curves, campaigns=campaigns)
    if register:
        result = _log_and_register(result, valid, config, campaign_id)
    return result


def _check_groups(frame: pd.DataFrame, campaign_id: str) -> None:
    for group in (TREATMENT, HOLDOUT):
        rows = frame[frame[GROUP] == group]
        events = int(rows[LABEL_CHURN].sum())
        if len(rows) < 200 or events < 10:
            raise DataError(
                f"campaign {campaign_id}: {group} customers with a known outcome: "
                f"{len(rows):,} ({events} churned); an uplift model needs at least 200 and "
                "10 churners in each group (a wider test-and-learn list or a larger holdout)"
            )


def _levelled_baselines(
    frame: pd.DataFrame, baselines: Mapping[str, BinaryModel], held_back: np.ndarray
) -> tuple[dict[str, float], np.ndarray]:
    """Per campaign, the level that brings its baseline to its holdout's churn, and every
    row's log-odds of churn if not called (its campaign's baseline, levelled). A campaign
    without a holdout in the fit part keeps its baseline as it is."""
    levels, start = {}, np.empty(len(frame))
    for name, rows in frame.groupby(CAMPAIGN, sort=False).indices.items():
        part = frame.iloc[rows]
        untreated = part[(part[GROUP] == HOLDOUT).to_numpy() & ~held_back[rows]]
        levels[name] = _level(baselines[name], untreated) if len(untreated) else 0.0
        start[rows] = log_odds(baselines[name].predict_proba(part)) + levels[name]
    return levels, start


def _validation(valid: pd.DataFrame, predicted: np.ndarray):
    """Qini, AUUC and uplift at the top shares on the held-back part, for the model, churn
    risk and (synthetic bank) the truth; and the Qini curves."""
    retained = 1.0 - valid[LABEL_CHURN].to_numpy(dtype=float)
    in_treatment = (valid[GROUP] == TREATMENT).to_numpy()
    scores = {"uplift model": predicted}
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
    metrics.update(_intervals(retained, in_treatment, scores))
    return metrics, curves


def _intervals(retained: np.ndarray, in_treatment: np.ndarray, scores: dict) -> dict[str, float]:
    """95 % bootstrap intervals (percentile, resampled within each arm) of the Qini
    coefficient, AUUC and uplift in the top 20 % of every score, and of the uplift model's
    Qini minus churn risk's (paired: the same resamples)."""
    measures = {
        "qini": uplift_metrics.qini_coefficient,
        "auuc": uplift_metrics.auuc,
        "uplift_at_20": partial(uplift_metrics.uplift_at_k, share=0.2),
    }
    draws = uplift_metrics.bootstrap_metrics(
        retained, in_treatment, scores, measures, draws=BOOTSTRAP_DRAWS
    )
    intervals = {}
    for (name, measure), values in draws.items():
        key = f"{measure}_{name.replace(' ', '_')}"
        intervals[f"{key}_ci_low"], intervals[f"{key}_ci_high"] = _percentiles(values)
    if "churn risk" in scores:
        difference = draws["uplift model", "qini"] - draws["churn risk", "qini"]
        low, high = _percentiles(difference)
        intervals["qini_model_minus_risk_ci_low"] = low
        intervals["qini_model_minus_risk_ci_high"] = high
    return intervals


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    known = values[np.isfinite(values)]
    if len(known) < len(values) / 2:  # mostly undefined (a top share without a holdout)
        return float("nan"), float("nan")
    low, high = np.percentile(known, [2.5, 97.5])
    return float(low), float(high)


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


def _log_and_register(
    result: UpliftResult, valid: pd.DataFrame, config: RetainConfig, campaign_id: str
) -> UpliftResult:
    params = {
        "campaign_id": campaign_id,
        "learner": "churn baseline + LightGBM log-odds shift on the called",
        "learner_name": LEARNER,
        "campaigns": ",".join(result.campaigns),
        "baseline_level": result.model.level,
        **{f"shift_{k}": v for k, v in asdict(SETTINGS).items()},
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


def train_from_campaign(bank, config: RetainConfig, campaign_dirs, register: bool = True):
    """Fit the uplift model on the campaigns `retain score` wrote to `campaign_dirs` (one
    folder or several, pooled), with the outcomes a later extract (`bank`) shows over each
    one's horizon; each campaign's baseline is the churn model version that scored it (from
    the lists' `versions`), and a served prediction uses the newest campaign's.

    Raises:
        DataError: no campaign lists there, the same campaign twice, or the extract ends
            before a horizon.
    """
    from features.definitions import feature_names

    folders = distinct_folders(campaign_dirs)
    campaigns = sorted(
        (_campaign_rows(bank, config, folder) for folder in folders), key=lambda one: one[0]
    )
    names = [str(rows[CAMPAIGN].iat[0]) for _, rows, _ in campaigns]
    if len(set(names)) < len(names):
        raise DataError(f"--campaign-dir: the same campaign given twice ({', '.join(names)})")
    pooled = pd.concat([rows for _, rows, _ in campaigns], ignore_index=True)
    baselines = {name: baseline for name, (_, _, baseline) in zip(names, campaigns, strict=True)}
    return train_uplift(
        pooled, feature_names(config.features), baselines, config, "+".join(names), register
    )


def distinct_folders(campaign_dirs) -> list:
    """The campaign folders as a list, refused when one is given twice (checked before any
    extract is read).

    Raises:
        DataError: the same folder twice.
    """
    folders = [campaign_dirs] if isinstance(campaign_dirs, str | Path) else list(campaign_dirs)
    if len({Path(folder).resolve() for folder in folders}) < len(folders):
        raise DataError(
            "--campaign-dir: the same campaign given twice ("
            + ", ".join(Path(folder).name for folder in folders)
            + ")"
        )
    return folders


def _campaign_rows(bank, config: RetainConfig, campaign_dir):
    """One campaign's day, its customers with group, outcome, risk score (and the truth's
    uplift on the synthetic bank), and the churn model that scored it."""
    from evaluation.programme import campaign_files, campaign_outcomes, read_truth

    tasks, scores, as_of = campaign_files(campaign_dir, bank, config)
    campaign = campaign_outcomes(bank, as_of, config)
    campaign = campaign.merge(
        tasks[["customer_id", GROUP]].drop_duplicates("customer_id"), on="customer_id", how="left"
    )
    campaign = campaign.merge(
        scores[["customer_id", "churn_probability"]], on="customer_id", how="left"
    )
    campaign[GROUP] = campaign[GROUP].fillna(NOT_LISTED)
    campaign[CAMPAIGN] = str(tasks["campaign_id"].iat[0])
    truth = read_truth(bank.data_dir, as_of, config.features) if bank.data_dir else None
    if truth is not None:
        campaign = campaign.merge(truth, on="customer_id", how="left")
        campaign["true_uplift"] = campaign["p_churn_90d"] - campaign["p_churn_90d_if_called"]
    version = json.loads(tasks["versions"].iat[0]).get(CHURN_MODEL)
    return as_of, campaign, _churn_model(config, version)


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
