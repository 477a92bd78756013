"""How a trained model goes into MLflow: one pyfunc that carries its own code.

Each model is logged "from code": an entry file of `training/pyfunc/` names its pyfunc
class, and `retain_model_runtime.py` travels with it as MLflow `code_paths`. On load, MLflow
puts the model's `code/` folder first on `sys.path` (mlflow.utils.model_utils
`_add_code_from_conf_to_system_path`) and runs the entry file, whose
`from retain_model_runtime import ...` then finds the copy the model carries. So a model
loads wherever its `requirements.txt` is installed, with no checkout of Retain.

The raw LightGBM booster is part of every model, for SHAP and other tools that want it:
`mlflow.pyfunc.load_model(uri).unwrap_python_model().model.booster` (the cross-sell model
has `.pooled.booster` or `.per_product[pid].booster`, the uplift model
`.baseline.booster` and `.shift.booster`), or the text file `artifacts/booster.txt` of the
downloaded model, read with `lightgbm.Booster(model_file=...)` (docs/training.md).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import AnyType

from training import tracking
from training.model import PRODUCT_COLUMN, BinaryModel, CrossSellModel, ModelSchema, UpliftModel
from training.pyfunc import retain_model_runtime

PYFUNC_DIR = Path(__file__).parent / "pyfunc"
RUNTIME_MODULE = "retain_model_runtime"
RUNTIME_FILE = PYFUNC_DIR / f"{RUNTIME_MODULE}.py"
# The models-from-code entry file of each kind of model.
ENTRY_FILES = {
    "binary": PYFUNC_DIR / "binary.py",
    "cross_sell": PYFUNC_DIR / "cross_sell.py",
    "uplift": PYFUNC_DIR / "uplift.py",
}


@contextmanager
def runtime_importable() -> Iterator[None]:
    """`retain_model_runtime` importable by its top-level name, as in a loaded model.

    MLflow runs the entry file while logging it (to check it sets a model), in this
    process, where the runtime is `training.pyfunc.retain_model_runtime`. For that
    moment the top-level name is this same module; afterwards the name is free again, so
    a model loaded later in the process imports the copy it carries. A name already
    imported (a model loaded before) is left as it is.
    """
    if RUNTIME_MODULE in sys.modules:
        yield
        return
    sys.modules[RUNTIME_MODULE] = retain_model_runtime
    try:
        yield
    finally:
        if sys.modules.get(RUNTIME_MODULE) is retain_model_runtime:
            del sys.modules[RUNTIME_MODULE]


@contextmanager
def without_project_files() -> Iterator[None]:
    """MLflow copies the uv.lock and pyproject.toml of the working directory into a model
    it logs (`MLFLOW_UV_AUTO_DETECT`): Retain's would make a model's environment the whole
    project (Ibis, DuckDB, BentoML, …) and depend on where training ran. The model's own
    `requirements.txt` is its environment."""
    before = os.environ.get("MLFLOW_UV_AUTO_DETECT")
    os.environ["MLFLOW_UV_AUTO_DETECT"] = "false"
    try:
        yield
    finally:
        if before is None:
            del os.environ["MLFLOW_UV_AUTO_DETECT"]
        else:
            os.environ["MLFLOW_UV_AUTO_DETECT"] = before


def log_pyfunc_model(
    kind: str,
    artifacts: dict[str, str],
    registered_model_name: str,
    signature: ModelSignature | None = None,
    input_example: pd.DataFrame | None = None,
) -> str:
    """Log a model into the active run with its code, and register it.

    Args:
        kind: which entry file: `binary`, `cross_sell` or `uplift`.
        artifacts: the files the model saved, by the names its pyfunc reads.
        registered_model_name: the registered name a new version is created under.
        signature: the model's inputs and outputs.
        input_example: a few rows of model inputs (never ids or personal data).

    Returns:
        The registered version.
    """
    path_before = list(sys.path)
    try:
        with runtime_importable(), without_project_files():
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(ENTRY_FILES[kind]),
                artifacts=artifacts,
                code_paths=[str(RUNTIME_FILE)],
                signature=signature,
                input_example=input_example,
                registered_model_name=registered_model_name,
                pip_requirements=tracking.pip_requirements(),
            )
    finally:
        # Checking the input example loads the model from a temporary folder, whose code
        # folder MLflow leaves at the front of `sys.path`.
        sys.path[:] = path_before
    return str(info.registered_model_version)


def model_signature(schema: ModelSchema) -> ModelSignature:
    """Every feature optional (a missing value is information). Categoricals accept text or
    pandas categoricals (MLflow's `string` refuses the latter); the model applies its own
    training levels either way."""
    inputs = Schema(
        [
            ColSpec(AnyType() if name in schema.categories else "double", name, required=False)
            for name in schema.features
        ]
    )
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double")]))


def input_example(schema: ModelSchema, holdout: pd.DataFrame) -> pd.DataFrame:
    """Five rows of model features only: no ids, no names, no birth dates."""
    return schema.prepare(holdout.head(5)).astype(
        {column: "object" for column in schema.categories}
    )


def register_binary_model(
    model: BinaryModel, holdout: pd.DataFrame, name: str
) -> tuple[str, list[str]]:
    """Log the model into the active run as one pyfunc (booster, calibration, schema),
    register it under `name`, and set the aliases; returns the version and its aliases."""
    with tempfile.TemporaryDirectory() as folder:
        version = log_pyfunc_model(
            "binary",
            model.save(Path(folder)),
            name,
            model_signature(model.schema),
            input_example(model.schema, holdout),
        )
    return version, tracking.assign_aliases(name, version)


def register_cross_sell_model(
    model: CrossSellModel, holdout: pd.DataFrame, name: str
) -> tuple[str, list[str]]:
    """Log the model as one pyfunc (all boosters, calibrations, product list, catalogue)
    and register it; its output is one optional propensity column per product."""
    categories = {
        column: levels
        for part in ([model.pooled] if model.pooled else model.per_product.values())
        for column, levels in part.schema.categories.items()
        if column != PRODUCT_COLUMN
    }
    schema = ModelSchema(tuple(model.features), categories)
    signature = ModelSignature(
        inputs=model_signature(schema).inputs,
        outputs=Schema([ColSpec("double", pid, required=False) for pid in model.products]),
    )
    with tempfile.TemporaryDirectory() as folder:
        artifacts = {"cross_sell": str(model.save(Path(folder) / "cross_sell"))}
        version = log_pyfunc_model(
            "cross_sell", artifacts, name, signature, input_example(schema, holdout)
        )
    return version, tracking.assign_aliases(name, version)


def register_uplift_model(
    model: UpliftModel, holdout: pd.DataFrame, name: str
) -> tuple[str, list[str]]:
    """Log the uplift model (baseline, shift, level) as one pyfunc and register it."""
    # The model reads the baseline's features and the shift's: the signature takes both
    # (MLflow drops inputs the signature does not name).
    baseline, shift = model.baseline.schema, model.shift.schema
    names = list(dict.fromkeys([*baseline.features, *shift.features]))
    schema = ModelSchema(tuple(names), {**baseline.categories, **shift.categories})
    with tempfile.TemporaryDirectory() as folder:
        version = log_pyfunc_model(
            "uplift",
            model.save(Path(folder)),
            name,
            model_signature(schema),
            input_example(schema, holdout),
        )
    return version, tracking.assign_aliases(name, version)
