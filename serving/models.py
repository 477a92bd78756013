"""The champion models, loaded from the MLflow registry.

Serving never imports `training`: it asks MLflow for `models:/<name>@champion`, and the
pyfunc MLflow loads carries its own model object (booster, calibration, input schema,
product catalogue). Serving uses that object's boosters directly on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from common.config import RetainConfig, resolve_tracking_uri
from common.errors import RetainError
from common.names import CHAMPION, CHURN_MODEL, UPLIFT_MODEL, XSELL_MODEL


@dataclass(frozen=True)
class Champions:
    """What every decision uses: both champion models, their versions, the catalogue."""

    churn: object  # has predict_proba(frame), raw_scores(frame), booster, schema
    xsell: object  # has predict_proba(frame) -> frame of propensities, products, catalogue
    churn_version: str
    xsell_version: str
    uplift: object | None = None  # has control and treated sides (uplift targeting only)
    uplift_version: str | None = None

    @cached_property  # read on every decision: built once per loaded pair of models
    def catalogue(self) -> pd.DataFrame:
        """Products indexed by id: family, risk_level, min_age, margin, name."""
        frame = pd.DataFrame(list(self.xsell.catalogue))
        if frame.empty:
            raise RetainError(
                f"{XSELL_MODEL} version {self.xsell_version} carries no product catalogue: "
                "retrain it with this version of Retain"
            )
        return frame.set_index("product_id")

    @property
    def versions(self) -> dict[str, str]:
        versions = {CHURN_MODEL: self.churn_version, XSELL_MODEL: self.xsell_version}
        if self.uplift_version is not None:
            versions[UPLIFT_MODEL] = self.uplift_version
        return versions


def _registry(config: RetainConfig):
    import os

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    from mlflow import MlflowClient

    uri = resolve_tracking_uri(config.training.tracking_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(), uri


def champion_versions(config: RetainConfig) -> dict[str, str]:
    """Which versions the champion aliases point at now (no model is loaded)."""
    client, _ = _registry(config)
    return {
        name: str(client.get_model_version_by_alias(name, CHAMPION).version)
        for name in _served_models(config)
    }


def _served_models(config: RetainConfig) -> tuple[str, ...]:
    """The models decisions use: the uplift model only under uplift targeting."""
    if config.serving.targeting == "uplift":
        return (CHURN_MODEL, XSELL_MODEL, UPLIFT_MODEL)
    return (CHURN_MODEL, XSELL_MODEL)


def load_champions(config: RetainConfig) -> Champions:
    """The champions from the configured MLflow registry: churn and cross-sell, and the
    churn uplift model when `serving.targeting` is `uplift`.

    Raises:
        RetainError: a model has no champion yet (train it first), naming which.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client, uri = _registry(config)
    wanted = [(CHURN_MODEL, "`retain train churn`"), (XSELL_MODEL, "`retain train xsell`")]
    if config.serving.targeting == "uplift":
        wanted.append((UPLIFT_MODEL, "a test-and-learn campaign, e.g. `retain demo campaign`"))
    loaded, versions = {}, {}
    for name, how in wanted:
        try:
            version = client.get_model_version_by_alias(name, CHAMPION).version
        except MlflowException:
            raise RetainError(
                f"no champion of {name} in the MLflow registry at {uri}: train one first "
                f"({how}), or point MLFLOW_TRACKING_URI at the registry that has it"
            ) from None
        model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
        loaded[name], versions[name] = model.unwrap_python_model().model, str(version)
    return Champions(
        loaded[CHURN_MODEL],
        loaded[XSELL_MODEL],
        versions[CHURN_MODEL],
        versions[XSELL_MODEL],
        loaded.get(UPLIFT_MODEL),
        versions.get(UPLIFT_MODEL),
    )
