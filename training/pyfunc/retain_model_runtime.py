"""The code every logged Retain model carries: what scoring needs, and nothing else.

MLflow copies this one file into each model's `code/` folder (`code_paths`) and puts that
folder on `sys.path` when it loads the model, so `mlflow.pyfunc.load_model` works in any
environment built from the model's own `requirements.txt`: no checkout of Retain, no Ibis,
no DuckDB. Hence the rules of this file:

- it imports numpy, pandas, lightgbm and mlflow only, never a Retain package;
- its import name is unique (`retain_model_runtime`), so it cannot shadow or be shadowed
  by another module on `sys.path`;
- fitting stays in `training` (calibration with scikit-learn, LightGBM training): a model
  only has to apply what was fitted.

Python imports a module once per process: when several models are loaded in one process,
they all run the first copy imported, so what a model saves (the JSON files below) stays
readable by later versions of this file. Artifacts are plain files (LightGBM text model,
JSON): `booster.txt` loads with `lightgbm.Booster(model_file=...)` on its own.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import lightgbm as lgb
import mlflow.pyfunc
import numpy as np
import pandas as pd

PRODUCT_COLUMN = "product_id"  # the pooled cross-sell model's product input
BOOSTER_FILE = "booster.txt"
CALIBRATION_FILE = "calibration.json"
SCHEMA_FILE = "schema.json"
CROSS_SELL_FILE = "cross_sell.json"
LEVEL_FILE = "level.json"


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

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The same inputs as `prepare`, as a float64 matrix for `Booster.predict`:
        categoricals as their training level's index (NaN when missing or unseen), which
        is exactly how LightGBM encodes a pandas categorical. A fraction of `prepare`'s
        cost: the serving hot path uses this."""
        missing = [name for name in self.features if name not in frame]
        if missing:
            raise KeyError(f"model input lacks feature(s): {', '.join(missing)}")
        out = np.empty((len(frame), len(self.features)), dtype="float64")
        numeric = [i for i, name in enumerate(self.features) if name not in self.categories]
        block = frame[[self.features[i] for i in numeric]]
        try:
            out[:, numeric] = block.to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError):  # text in a numeric column: coerce like `prepare`
            out[:, numeric] = block.apply(pd.to_numeric, errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan
            )
        for i, name in enumerate(self.features):
            if name in self.categories:
                codes = self._codes(name)
                out[:, i] = [codes.get(value, np.nan) for value in frame[name].astype("object")]
        return out

    def _codes(self, name: str) -> dict:
        cache = self.__dict__.setdefault("_code_cache", {})
        if name not in cache:
            cache[name] = {level: float(code) for code, level in enumerate(self.categories[name])}
        return cache[name]

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
    """Maps raw booster scores to probabilities; fitted on a held-out period (by
    `training.binary.fit_calibration`)."""

    method: str
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0
    # Probabilities stay within these (a model logged before bounds existed: 0 and 1).
    lower: float = 0.0
    upper: float = 1.0

    def apply(self, raw_scores: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.clip(np.interp(raw_scores, self.x, self.y), self.lower, self.upper)
        clipped = np.clip(raw_scores, 1e-7, 1 - 1e-7)
        logit = np.log(clipped / (1 - clipped))
        recalibrated = np.clip(self.slope * logit + self.intercept, -50.0, 50.0)  # no overflow
        probability = 1 / (1 + np.exp(-recalibrated))
        return np.clip(probability, self.lower, self.upper)


# Below this many rows one thread predicts faster than a team: OpenMP's start-up and
# spin-waiting cost more than the trees (one-row predict calls took ~13 ms each with the
# default threads on a busy 2-core machine; a whole one-id decision then took ~19 ms).
SINGLE_THREAD_ROWS = 2_000


def predict(booster: lgb.Booster, matrix: np.ndarray, **options) -> np.ndarray:
    """`Booster.predict` with a thread count that suits the batch size."""
    threads = 1 if len(matrix) < SINGLE_THREAD_ROWS else 0  # 0: LightGBM's default
    return booster.predict(matrix, num_threads=threads, **options)


def log_odds(probability: np.ndarray) -> np.ndarray:
    """Logit, clipped to [1e-4, 1 - 1e-4] so a certain baseline stays finite."""
    clipped = np.clip(probability, 1e-4, 1 - 1e-4)
    return np.log(clipped / (1 - clipped))


@dataclass
class BinaryModel:
    """Booster + calibration + schema: `predict_proba` on a feature frame."""

    booster: lgb.Booster
    calibration: Calibration
    schema: ModelSchema

    def raw_scores(self, frame: pd.DataFrame) -> np.ndarray:
        return predict(self.booster, self.schema.matrix(frame))

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """SHAP values per row and feature (log-odds), bias in the last column."""
        return predict(self.booster, self.schema.matrix(frame), pred_contrib=True)

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
    def load_folder(cls, folder: Path) -> BinaryModel:
        return cls.load(
            {name: str(folder / name) for name in (BOOSTER_FILE, CALIBRATION_FILE, SCHEMA_FILE)}
        )

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


@dataclass
class CrossSellModel:
    """Propensity to open each catalogue product within the horizon, for products the
    customer does not hold. Either one model over (customer, product) pairs with the
    product as a categorical feature (`pooled`), or one model per product."""

    products: tuple[str, ...]
    pooled: BinaryModel | None = None
    per_product: dict[str, BinaryModel] = field(default_factory=dict)
    # The catalogue the model was trained with (id, family, risk level, minimum age,
    # margin): serving's eligibility rules and expected values travel with the model.
    catalogue: tuple[dict, ...] = ()
    # Per product, the input column that is > 0 when the customer already holds it (named
    # by the feature definitions at training time: this file cannot import them).
    held_columns: dict[str, str] = field(default_factory=dict)

    @property
    def strategy(self) -> str:
        return "single" if self.pooled is not None else "per_product"

    @property
    def features(self) -> tuple[str, ...]:
        """Customer-level inputs (the pooled model's product column is added here)."""
        if self.pooled is not None:
            return tuple(f for f in self.pooled.schema.features if f != PRODUCT_COLUMN)
        names: dict[str, None] = {}
        for model in self.per_product.values():
            names |= dict.fromkeys(model.schema.features)
        return tuple(names)

    def predict_proba(self, frame: pd.DataFrame, chunk_rows: int = 50_000) -> pd.DataFrame:
        """One column per product, one row per customer (same index); NaN where the
        customer holds the product or no model covers it, so it can never be ranked."""
        parts = [
            self._predict_chunk(frame.iloc[start : start + chunk_rows])
            for start in range(0, len(frame), chunk_rows)
        ] or [pd.DataFrame(columns=list(self.products), dtype="float64")]
        scores = pd.concat(parts)
        held = (
            np.column_stack(
                [
                    frame[self.held_columns[pid]].to_numpy(dtype="float64") > 0
                    for pid in self.products
                ]
            )
            if len(frame)
            else np.zeros((0, len(self.products)), dtype=bool)
        )
        return scores.mask(held)

    def _predict_chunk(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.pooled is not None:
            pairs = pd.concat(
                [frame.assign(**{PRODUCT_COLUMN: pid}) for pid in self.products],
                ignore_index=True,
            )
            flat = self.pooled.predict_proba(pairs)
            values = flat.reshape(len(self.products), len(frame)).T
            return pd.DataFrame(values, index=frame.index, columns=list(self.products))
        # The product models share their inputs: build the matrix once per distinct schema.
        matrices: dict[tuple, np.ndarray] = {}
        columns = {}
        for pid in self.products:
            model = self.per_product.get(pid)
            if model is None:
                columns[pid] = np.full(len(frame), np.nan)
                continue
            key = (model.schema.features, tuple(sorted(model.schema.categories.items())))
            if key not in matrices:
                matrices[key] = model.schema.matrix(frame)
            columns[pid] = model.calibration.apply(predict(model.booster, matrices[key]))
        return pd.DataFrame(columns, index=frame.index)

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CROSS_SELL_FILE).write_text(
            json.dumps(
                {
                    "strategy": self.strategy,
                    "products": list(self.products),
                    "catalogue": list(self.catalogue),
                    "held_columns": self.held_columns,
                },
                default=str,
            )
        )
        if self.pooled is not None:
            self.pooled.save(folder / "pooled")
        for pid, model in self.per_product.items():
            model.save(folder / pid)
        return folder

    @classmethod
    def load(cls, folder: Path, held_columns: dict[str, str] | None = None) -> CrossSellModel:
        """The model saved in `folder`; `held_columns` only for a model saved before they
        were part of its metadata."""
        meta = json.loads((folder / CROSS_SELL_FILE).read_text())
        products = tuple(meta["products"])
        held_columns = meta.get("held_columns") or held_columns
        if held_columns is None:
            raise ValueError(
                f"{folder / CROSS_SELL_FILE} does not name the held-product columns: a model "
                "saved by an older Retain, load it with `held_columns`"
            )
        saved = {"catalogue": tuple(meta.get("catalogue", ())), "held_columns": held_columns}
        if meta["strategy"] == "single":
            return cls(products, pooled=BinaryModel.load_folder(folder / "pooled"), **saved)
        return cls(
            products,
            per_product={
                pid: BinaryModel.load_folder(folder / pid)
                for pid in products
                if (folder / pid / BOOSTER_FILE).exists()
            },
            **saved,
        )


@dataclass
class UpliftModel:
    """The churn baseline (not called), brought to the campaign period's level, and the
    log-odds shift a call makes (fitted by `training.uplift`)."""

    baseline: BinaryModel
    shift: BinaryModel  # its booster's raw score is the shift; its calibration is unused
    # Log-odds added to the baseline so it matches the holdout's churn in the campaign
    # period: a baseline that drifted would otherwise read as an effect of the call.
    level: float = 0.0

    def _not_called_log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        return log_odds(self.baseline.predict_proba(frame)) + self.level

    def churn_if_not_called(self, frame: pd.DataFrame) -> np.ndarray:
        return 1 / (1 + np.exp(-self._not_called_log_odds(frame)))

    def churn_if_called(self, frame: pd.DataFrame) -> np.ndarray:
        shift = predict(self.shift.booster, self.shift.schema.matrix(frame), raw_score=True)
        return 1 / (1 + np.exp(-(self._not_called_log_odds(frame) + shift)))

    def predict_uplift(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted reduction of the 90-day churn probability if called (negative: the
        call is expected to make leaving more likely)."""
        return self.churn_if_not_called(frame) - self.churn_if_called(frame)

    def save(self, folder: Path) -> dict[str, str]:
        """Artifacts for MLflow: one folder per part."""
        self.baseline.save(folder / "baseline")
        self.shift.save(folder / "shift")
        (folder / LEVEL_FILE).write_text(json.dumps({"level": self.level}))
        return {
            "baseline": str(folder / "baseline"),
            "shift": str(folder / "shift"),
            "level": str(folder / LEVEL_FILE),
        }

    @classmethod
    def load(cls, artifacts: dict[str, str]) -> UpliftModel:
        return cls(
            BinaryModel.load_folder(Path(artifacts["baseline"])),
            BinaryModel.load_folder(Path(artifacts["shift"])),
            json.loads(Path(artifacts["level"]).read_text())["level"],
        )


class CalibratedBinaryPyfunc(mlflow.pyfunc.PythonModel):
    """`models:/retain-churn@champion` → `predict(feature_frame)` = calibrated probabilities."""

    def load_context(self, context) -> None:
        self.model = BinaryModel.load(context.artifacts)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        return self.model.predict_proba(model_input)


class CrossSellPyfunc(mlflow.pyfunc.PythonModel):
    """`models:/retain-xsell@champion` → `predict(feature_frame)` = a frame of calibrated
    propensities, one column per product, NaN for products held."""

    def load_context(self, context) -> None:
        self.model = CrossSellModel.load(Path(context.artifacts["cross_sell"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.model.predict_proba(model_input)


class UpliftPyfunc(mlflow.pyfunc.PythonModel):
    """`models:/retain-uplift-churn@champion` → `predict(feature_frame)` = predicted uplift."""

    def load_context(self, context) -> None:
        self.model = UpliftModel.load(context.artifacts)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        return self.model.predict_uplift(model_input)
