"""A trained binary model as serving needs it: feature preparation, booster, calibration.

Everything is saved as plain artifacts (LightGBM text model, JSON), so a service can load
them without this package; the MLflow pyfunc wrapper below reads the same files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import lightgbm as lgb
import mlflow.pyfunc
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

BOOSTER_FILE = "booster.txt"
CALIBRATION_FILE = "calibration.json"
SCHEMA_FILE = "schema.json"


@dataclass(frozen=True)
class ModelSchema:
    """Model inputs in order, and the categorical levels fixed at training time."""

    features: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's input frame: its columns in order, numerics as float64, categoricals
        with the training levels (an unseen level becomes missing, never an error)."""
        missing = [name for name in self.features if name not in frame]
        if missing:
            raise KeyError(f"model input lacks feature(s): {', '.join(missing)}")
        prepared = {}
        for name in self.features:
            if name in self.categories:
                values = frame[name].astype("object").where(frame[name].notna(), None)
                prepared[name] = pd.Categorical(values, categories=list(self.categories[name]))
            else:
                prepared[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        return pd.DataFrame(prepared, index=frame.index)

    @classmethod
    def from_training(cls, frame: pd.DataFrame, features: list[str]) -> ModelSchema:
        categories = {
            name: tuple(str(level) for level in frame[name].cat.categories)
            for name in features
            if isinstance(frame[name].dtype, pd.CategoricalDtype)
        }
        return cls(tuple(features), categories)


@dataclass(frozen=True)
class Calibration:
    """Maps raw booster scores to probabilities; fitted on a held-out period."""

    method: str
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0

    @classmethod
    def fit(cls, raw_scores: np.ndarray, labels: np.ndarray, method: str) -> Calibration:
        if method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
            iso.fit(raw_scores, labels)
            return cls(
                "isotonic",
                tuple(map(float, iso.X_thresholds_)),
                tuple(map(float, iso.y_thresholds_)),
            )
        logit = np.log(
            np.clip(raw_scores, 1e-7, 1 - 1e-7) / (1 - np.clip(raw_scores, 1e-7, 1 - 1e-7))
        )
        platt = LogisticRegression(C=1e6).fit(logit.reshape(-1, 1), labels)
        return cls("platt", slope=float(platt.coef_[0, 0]), intercept=float(platt.intercept_[0]))

    def apply(self, raw_scores: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.interp(raw_scores, self.x, self.y)
        clipped = np.clip(raw_scores, 1e-7, 1 - 1e-7)
        logit = np.log(clipped / (1 - clipped))
        return 1 / (1 + np.exp(-(self.slope * logit + self.intercept)))


@dataclass
class BinaryModel:
    """Booster + calibration + schema: `predict_proba` on a feature frame."""

    booster: lgb.Booster
    calibration: Calibration
    schema: ModelSchema

    def raw_scores(self, frame: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self.schema.prepare(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.calibration.apply(self.raw_scores(frame))

    def save(self, folder: Path) -> dict[str, str]:
        """Write the artifacts; returns their paths by name (for MLflow)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(folder / BOOSTER_FILE)
        (folder / CALIBRATION_FILE).write_text(json.dumps(asdict(self.calibration)))
        (folder / SCHEMA_FILE).write_text(json.dumps(asdict(self.schema)))
        return {name: str(folder / name) for name in (BOOSTER_FILE, CALIBRATION_FILE, SCHEMA_FILE)}

    @classmethod
    def load(cls, files: dict[str, str]) -> BinaryModel:
        schema = json.loads(Path(files[SCHEMA_FILE]).read_text())
        calibration = json.loads(Path(files[CALIBRATION_FILE]).read_text())
        return cls(
            booster=lgb.Booster(model_file=files[BOOSTER_FILE]),
            calibration=Calibration(
                **{k: tuple(v) if isinstance(v, list) else v for k, v in calibration.items()}
            ),
            schema=ModelSchema(
                tuple(schema["features"]), {k: tuple(v) for k, v in schema["categories"].items()}
            ),
        )


class CalibratedBinaryPyfunc(mlflow.pyfunc.PythonModel):
    """`models:/retain-churn@champion` → `predict(feature_frame)` = calibrated probabilities."""

    def load_context(self, context) -> None:
        self.model = BinaryModel.load(context.artifacts)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        return self.model.predict_proba(model_input)
