"""Logged models load and predict outside this checkout.

Every registered model (churn, cross-sell of both strategies, churn uplift, a table-mode
model) is loaded in a throwaway virtual environment that holds only what the model's own
`requirements.txt` names (pinned to the project's lock, so uv installs it from its local
cache), from a folder outside the project with PYTHONPATH cleared: no `training`, no Ibis, no
DuckDB. Its predictions on a feature frame saved to Parquet must equal the in-project ones.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from common.config import load_config, with_overrides
from common.names import CHURN_MODEL, HOLDOUT, TREATMENT, UPLIFT_MODEL, XSELL_MODEL
from features import engine
from features.definitions import LABEL_CHURN, feature_names
from features.validation import load_bank

pytestmark = [pytest.mark.slow, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]
TABLE_MODEL = "portable-table"
# Packages of this project and the engines behind its features: a loaded model needs none.
# (scikit-learn is in the environment, as MLflow requires it, and LightGBM imports it when
# present for its scikit-learn API; the model code itself does not, see the last test.)
NOT_NEEDED = {"common", "features", "training", "serving", "evaluation", "simulation", "retain"}
NOT_NEEDED |= {"ibis", "duckdb"}

# Runs in the throwaway environment: load each model, predict, and look at its booster.
LOAD_AND_PREDICT = """
import json, sys
from pathlib import Path
import lightgbm as lgb, mlflow, numpy as np, pandas as pd


def first_booster(model, frame):
    # Each kind of model's (first) booster: its binary model, input frame, folder.
    if hasattr(model, "per_product"):  # cross-sell
        if model.pooled is not None:
            pooled = frame.assign(product_id=model.products[0])
            return model.pooled, pooled, "artifacts/cross_sell/pooled"
        product, part = next(iter(model.per_product.items()))
        return part, frame, f"artifacts/cross_sell/{product}"
    if hasattr(model, "baseline"):  # uplift
        return model.baseline, frame, "artifacts/baseline"
    return model, frame, "artifacts"


report = {}
for case in json.loads(sys.argv[1]):
    model = mlflow.pyfunc.load_model(case["uri"])
    frame = pd.read_parquet(case["input"])
    predicted = model.predict(frame)
    if not isinstance(predicted, pd.DataFrame):
        predicted = pd.DataFrame({"prediction": np.asarray(predicted)})
    predicted.to_parquet(case["output"])
    binary, inputs, folder = first_booster(model.unwrap_python_model().model, frame)
    matrix = binary.schema.matrix(inputs)
    raw = binary.booster.predict(matrix, raw_score=True)
    shap = binary.booster.predict(matrix, pred_contrib=True)
    local = Path(mlflow.artifacts.download_artifacts(case["uri"]))
    on_file = lgb.Booster(model_file=local / folder / "booster.txt")
    report[case["uri"]] = {
        "shap_adds_up": bool(np.allclose(shap.sum(axis=1), raw, atol=1e-9)),
        "file_booster_same": bool(np.array_equal(on_file.predict(matrix, raw_score=True), raw)),
    }
report["modules"] = sorted({name.split(".")[0] for name in sys.modules})
report["runtime"] = sys.modules["retain_model_runtime"].__file__
print(json.dumps(report))
"""


def account_table(rows: int = 1500, seed: int = 4) -> pd.DataFrame:
    """A bank's own one-row-per-customer export with a yes/no target."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    country = rng.choice(["FR", "ES", "DE"], rows)
    risk = 1 / (1 + np.exp(-(0.05 * (age - 50) + (country == "DE") * 1.0)))
    return pd.DataFrame(
        {
            "customer": [f"K{i:05d}" for i in range(rows)],
            "age": age,
            "balance": rng.gamma(2, 5000, rows),
            "country": country,
            "left": np.where(rng.uniform(size=rows) < risk, "yes", "no"),
        }
    )


def uplift_campaign(features: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    """The feature frame as a randomised campaign list with made-up outcomes."""
    rng = np.random.default_rng(seed)
    campaign = features.reset_index(drop=True).copy()
    campaign["group"] = np.where(rng.random(len(campaign)) < 0.5, TREATMENT, HOLDOUT)
    campaign[LABEL_CHURN] = (rng.random(len(campaign)) < 0.15).astype(float)
    return campaign


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """Every kind of model trained once and registered in one SQLite store."""
    from simulation.bank import generate_bank
    from training.churn import churn_rows, train_churn
    from training.dataset import build_training_frame, snapshot_cache
    from training.table import TableTask, prepare, train_table
    from training.uplift import train_uplift
    from training.xsell import train_xsell

    root = tmp_path_factory.mktemp("portable")
    data = root / "bank"
    generate_bank(data, n_customers=1500, months=24, seed=31, start=date(2023, 1, 1))
    uri = f"sqlite:///{root / 'mlflow.db'}"
    config = with_overrides(load_config(), "training", tracking_uri=uri)
    config = config.model_copy(update={"output_dir": root / "outputs"})
    bank = load_bank(engine.connect(config.features), data, config.data)
    churn = train_churn(bank, data, config)
    single = train_xsell(bank, data, config, "single")
    per_product = train_xsell(bank, data, config, "per_product")
    account_table().to_csv(root / "accounts.csv", index=False)
    task = TableTask(root / "accounts.csv", "left", "yes", TABLE_MODEL, id_column="customer")
    table = train_table(task, config)
    accounts, account_features, _ = prepare(account_table(), task)
    frame = churn_rows(
        build_training_frame(bank, churn.plan, config.features, snapshot_cache(config))
    )
    features = frame[frame["split"] == "test"]
    baseline = mlflow.pyfunc.load_model(f"models:/{CHURN_MODEL}/{churn.version}")
    uplift = train_uplift(
        uplift_campaign(features),
        feature_names(config.features),
        baseline.unwrap_python_model().model,
        config,
        "portable",
    )
    inputs = {
        f"models:/{CHURN_MODEL}/{churn.version}": features,
        f"models:/{XSELL_MODEL}/{single.version}": features,
        f"models:/{XSELL_MODEL}/{per_product.version}": features,
        f"models:/{UPLIFT_MODEL}/{uplift.version}": features,
        f"models:/{TABLE_MODEL}/{table.version}": accounts[account_features],
    }
    return {"root": root, "uri": uri, "inputs": inputs}


def uv() -> str:
    """The uv the project installs with (`make install` bootstraps it into .tools/)."""
    found = os.environ.get("UV") or shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists() and not shutil.which(found):
        pytest.fail("uv not found: run `make install`, or set UV to its path")
    return found


@pytest.fixture(scope="module")
def model_env(registry, tmp_path_factory):
    """A virtual environment with the models' requirements and nothing of this project."""
    folder = tmp_path_factory.mktemp("model-env")
    requirements = {
        uri: Path(mlflow.artifacts.download_artifacts(f"{uri}/requirements.txt")).read_text()
        for uri in registry["inputs"]
    }
    assert len(set(requirements.values())) == 1, requirements
    (folder / "requirements.txt").write_text(next(iter(requirements.values())))
    lock = subprocess.run(
        [uv(), "export", "--locked", "--no-hashes", "--no-emit-project", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    (folder / "constraints.txt").write_text(lock.stdout)
    venv = folder / "venv"
    subprocess.run([uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    install = [uv(), "pip", "install", "--quiet", "-r", "requirements.txt"]
    install += ["-c", "constraints.txt"]
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    # The lock's versions are in uv's cache after `make install`; uv's index metadata may
    # not be (then it asks the index, and still takes the wheels from the cache).
    offline = subprocess.run([*install, "--offline"], cwd=folder, env=env, capture_output=True)
    if offline.returncode != 0:
        subprocess.run(install, cwd=folder, env=env, check=True)
    return venv


def test_every_model_predicts_the_same_outside_the_project(registry, model_env, tmp_path):
    cases = []
    for number, (uri, frame) in enumerate(registry["inputs"].items()):
        frame.to_parquet(tmp_path / f"input{number}.parquet")
        cases.append(
            {
                "uri": uri,
                "input": str(tmp_path / f"input{number}.parquet"),
                "output": str(tmp_path / f"output{number}.parquet"),
            }
        )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        "PATH": f"{model_env / 'bin'}:/usr/bin:/bin",
        "HOME": str(elsewhere),
        "MLFLOW_TRACKING_URI": registry["uri"],
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    done = subprocess.run(
        [str(model_env / "bin" / "python"), "-c", LOAD_AND_PREDICT, json.dumps(cases)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert not NOT_NEEDED & set(report["modules"]), NOT_NEEDED & set(report["modules"])
    assert report["runtime"].endswith("code/retain_model_runtime.py")
    for number, case in enumerate(cases):
        model = mlflow.pyfunc.load_model(case["uri"])
        expected = model.predict(pd.read_parquet(case["input"]))
        if not isinstance(expected, pd.DataFrame):
            expected = pd.DataFrame({"prediction": np.asarray(expected)})
        outside = pd.read_parquet(tmp_path / f"output{number}.parquet")
        pd.testing.assert_frame_equal(outside, expected, check_exact=True, obj=case["uri"])
        assert report[case["uri"]] == {"shap_adds_up": True, "file_booster_same": True}


def test_models_load_again_in_one_process_with_the_code_they_carry(registry):
    """In the project's own process too: MLflow puts each model's code folder first on
    sys.path, Python imports `retain_model_runtime` once, and the project's copy of it
    (`training.pyfunc.retain_model_runtime`) stays a module of its own."""
    from training.pyfunc import retain_model_runtime

    for uri, frame in registry["inputs"].items():
        first = mlflow.pyfunc.load_model(uri).predict(frame)
        again = mlflow.pyfunc.load_model(uri).predict(frame)
        if isinstance(first, pd.DataFrame):
            pd.testing.assert_frame_equal(first, again, check_exact=True)
        else:
            np.testing.assert_array_equal(first, again)
    carried = sys.modules["retain_model_runtime"]
    assert carried is not retain_model_runtime
    assert Path(carried.__file__).parent.name == "code"


@pytest.mark.parametrize(
    ("uri_of", "entry"),
    [
        (CHURN_MODEL, "from training.model import CalibratedBinaryPyfunc as Pyfunc"),
        (XSELL_MODEL, "from training.model import CrossSellPyfunc as Pyfunc"),
        (UPLIFT_MODEL, "from training.uplift import UpliftPyfunc as Pyfunc"),
    ],
)
def test_models_logged_before_their_code_travelled_still_load_here(
    registry, tmp_path, uri_of, entry
):
    """A model an earlier Retain logged names its class inside `training` and carries no
    code (nor, for cross-sell, the held-product columns): in a checkout it still loads."""
    uri = next(uri for uri in registry["inputs"] if uri.startswith(f"models:/{uri_of}/"))
    current = mlflow.pyfunc.load_model(uri)
    local = Path(mlflow.artifacts.download_artifacts(uri))
    logged = mlflow.models.Model.load(local).flavors["python_function"]["artifacts"]
    artifacts = {name: str(local / item["path"]) for name, item in logged.items()}
    meta = local / "artifacts" / "cross_sell" / "cross_sell.json"
    if meta.exists():
        old = json.loads(meta.read_text())
        del old["held_columns"]
        meta.write_text(json.dumps(old))
    (tmp_path / "entry.py").write_text(
        f"from mlflow.models import set_model\n{entry}\nset_model(Pyfunc())\n"
    )
    mlflow.pyfunc.save_model(  # requirements given: MLflow would infer them in a subprocess
        tmp_path / "old",
        python_model=str(tmp_path / "entry.py"),
        artifacts=artifacts,
        pip_requirements=["mlflow"],
    )
    old_style = mlflow.pyfunc.load_model(str(tmp_path / "old"))
    frame = registry["inputs"][uri]
    expected, got = current.predict(frame), old_style.predict(frame)
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    else:
        np.testing.assert_array_equal(got, expected)


def test_the_code_a_model_carries_imports_only_its_requirements():
    from training.model_logging import ENTRY_FILES, RUNTIME_FILE

    allowed = {"__future__", "json", "dataclasses", "pathlib", "lightgbm", "mlflow", "numpy"}
    allowed |= {"pandas", "retain_model_runtime"}
    for path in (RUNTIME_FILE, *ENTRY_FILES.values()):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module.split(".")[0])
        assert imported <= allowed, f"{path.name} imports {imported - allowed}"
