"""Champion / challenger: list registered models, compare on one holdout, promote."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.metrics import roc_auc_score

from common.errors import RetainError
from common.names import CHALLENGER, CHAMPION, XSELL_MODEL
from training.contenders import LOGISTIC, ORACLE, RULE_PREFIX

PRIMARY_METRIC = "roc_auc"
# What promotion compares for each registered model; table-mode models are binary.
PRIMARY_METRICS = {XSELL_MODEL: "map_at_7"}
# The test metrics `retain models list` shows beside each version.
LISTED_METRICS = (
    *(prefix + PRIMARY_METRIC for prefix in ("", LOGISTIC.prefix, RULE_PREFIX, ORACLE.prefix)),
    "pr_auc",
    "ece",
    *(prefix + "map_at_7" for prefix in ("", LOGISTIC.prefix, RULE_PREFIX, ORACLE.prefix)),
)


Scorer = Callable[[np.ndarray, object], float]


def primary_metric(name: str) -> str:
    return PRIMARY_METRICS.get(name, PRIMARY_METRIC)


@dataclass(frozen=True)
class Decision:
    """The outcome of a promotion check, with the numbers behind it."""

    name: str
    champion_version: str
    challenger_version: str
    champion_score: float
    challenger_score: float
    tolerance: float
    promoted: bool
    reason: str
    metric: str = PRIMARY_METRIC


def describe_versions(name: str | None = None) -> list[dict]:
    """Registered versions with their aliases and the test metrics their run logged."""
    client = MlflowClient()
    names = [name] if name else [model.name for model in client.search_registered_models()]
    rows = []
    for model_name in names:
        try:
            versions = client.search_model_versions(f"name = '{model_name}'")
        except MlflowException:
            versions = []
        if not versions and name:
            raise RetainError(
                f"no registered model named {name!r}; `retain models list` shows what there is"
            )
        aliases_of: dict[str, list[str]] = {}
        if versions:
            for alias, number in client.get_registered_model(model_name).aliases.items():
                aliases_of.setdefault(str(number), []).append(alias)
        for version in sorted(versions, key=lambda v: int(v.version), reverse=True):
            metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
            rows.append(
                {
                    "name": model_name,
                    "version": str(version.version),
                    "aliases": ", ".join(sorted(aliases_of.get(str(version.version), []))),
                    "run_id": version.run_id,
                    "created": pd.Timestamp(version.creation_timestamp, unit="ms"),
                    **{key: metrics.get(key) for key in LISTED_METRICS},
                }
            )
    return rows


def version_by_alias(name: str, alias: str) -> str:
    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        raise RetainError(f"{name} has no version with alias '{alias}'") from None


def decide(
    name: str,
    holdout: pd.DataFrame,
    labels: np.ndarray,
    tolerance: float,
    score: Scorer | None = None,
) -> Decision:
    """Score champion and challenger on the same holdout rows and decide.

    The challenger replaces the champion unless it is worse by more than `tolerance` on
    the primary metric: a retrained model on newer data is preferred when it is as good.
    `score(labels, predictions)` computes that metric (default: ROC AUC of a binary model;
    cross-sell passes MAP@7 over its product matrix).
    """
    champion = version_by_alias(name, CHAMPION)
    challenger = version_by_alias(name, CHALLENGER)
    metric = primary_metric(name)
    score = score or _roc_auc
    # Plain text categoricals: every model version's signature accepts them.
    holdout = holdout.astype(
        {
            name: "object"
            for name in holdout.columns
            if isinstance(holdout[name].dtype, pd.CategoricalDtype)
        }
    )
    if len(np.unique(labels[~np.isnan(labels)])) < 2:
        raise RetainError(f"the holdout of {name} has only one class: cannot compare models")
    scores = {
        version: score(labels, _predict(name, version, holdout))
        for version in {champion, challenger}
    }
    champion_score, challenger_score = scores[champion], scores[challenger]
    if champion == challenger:
        promoted, reason = False, "the challenger already is the champion"
    else:
        promoted = challenger_score >= champion_score - tolerance
        verdict = "not worse than" if promoted else "worse than"
        reason = (
            f"challenger v{challenger} {metric} {challenger_score:.4f} is {verdict} "
            f"champion v{champion} {champion_score:.4f} beyond the tolerance {tolerance}"
        )
    return Decision(
        name,
        champion,
        challenger,
        champion_score,
        challenger_score,
        tolerance,
        promoted,
        reason,
        metric,
    )


def _roc_auc(labels: np.ndarray, predictions) -> float:
    return float(roc_auc_score(labels, np.asarray(predictions)))


def _predict(name: str, version: str, holdout: pd.DataFrame):
    """One version's predictions on the holdout, fed exactly the inputs its signature names."""
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    wanted = model.metadata.get_input_schema().input_names()
    missing = [column for column in wanted if column not in holdout]
    if missing:
        raise RetainError(
            f"{name} version {version} needs feature(s) the current definitions no longer "
            f"produce ({', '.join(missing)}): it was trained on an older feature set. "
            "Retrain, or use --force to make the challenger champion without a comparison"
        )
    return model.predict(holdout[wanted])


def forced(name: str) -> Decision:
    """A promotion without comparison, recorded as such."""
    champion = version_by_alias(name, CHAMPION)
    challenger = version_by_alias(name, CHALLENGER)
    return Decision(
        name,
        champion,
        challenger,
        float("nan"),
        float("nan"),
        0.0,
        True,
        f"challenger v{challenger} made champion by --force, without comparison",
        primary_metric(name),
    )


def apply(decision: Decision, holdout_description: str) -> None:
    """Move the champion alias if promoted; record the decision either way, in a run and
    as tags on both versions, so every change of champion can be traced."""
    client = MlflowClient()
    with mlflow.start_run(run_name=f"promotion {decision.name}"):
        mlflow.log_params(
            {
                "model": decision.name,
                "champion_version": decision.champion_version,
                "challenger_version": decision.challenger_version,
                "tolerance": decision.tolerance,
                "holdout": holdout_description,
            }
        )
        mlflow.log_metrics(
            {
                "champion_" + decision.metric: decision.champion_score,
                "challenger_" + decision.metric: decision.challenger_score,
            }
        )
        mlflow.set_tags({"promoted": str(decision.promoted), "reason": decision.reason})
    for version in {decision.champion_version, decision.challenger_version}:
        client.set_model_version_tag(
            decision.name, version, "last_promotion_check", decision.reason
        )
    if decision.promoted:
        client.set_registered_model_alias(decision.name, CHAMPION, decision.challenger_version)
