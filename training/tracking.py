"""MLflow: where runs go, what each run records, and the champion/challenger registry."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from common.config import resolve_tracking_uri
from common.names import CHALLENGER, CHAMPION

tracking_uri = resolve_tracking_uri


def use_tracking(configured_uri: str | None, experiment: str) -> str:
    """Point MLflow at the store and experiment; returns the URI in use."""
    uri = tracking_uri(configured_uri)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        artifacts = None
        if uri.startswith("sqlite:///"):
            artifacts = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
        mlflow.create_experiment(experiment, artifact_location=artifacts)
    mlflow.set_experiment(experiment)
    return uri


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def data_fingerprint(data_dir: Path) -> str:
    """SHA-256 over each file's name, size and first and last MiB: identifies an extract
    without reading gigabytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(data_dir)}:{size}".encode())
        with path.open("rb") as handle:
            digest.update(handle.read(1 << 20))
            if size > 2 << 20:
                handle.seek(-(1 << 20), os.SEEK_END)
                digest.update(handle.read())
    return digest.hexdigest()


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def assign_aliases(name: str, version: str) -> list[str]:
    """New versions are challengers; the first version of a name is also champion."""
    client = MlflowClient()
    client.set_registered_model_alias(name, CHALLENGER, version)
    try:
        client.get_model_version_by_alias(name, CHAMPION)
        return [CHALLENGER]
    except MlflowException:
        client.set_registered_model_alias(name, CHAMPION, version)
        return [CHALLENGER, CHAMPION]


def standard_tags(model_name: str) -> dict[str, str]:
    """Tags every training run carries: code version and library versions."""
    import lightgbm
    import numpy
    import pandas
    import sklearn

    return {
        "git_commit": git_commit(),
        "model": model_name,
        **{
            f"version.{lib.__name__}": lib.__version__
            for lib in (lightgbm, sklearn, pandas, numpy, mlflow)
        },
    }


def log_evaluation(metrics: dict[str, float], figures: dict, tables: dict) -> None:
    """Metrics, PNG plots (closed after logging) and CSV tables into the active run."""
    import matplotlib.pyplot as plt

    mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # NaN: not measurable
    for name, figure in figures.items():
        mlflow.log_figure(figure, f"plots/{name}.png")
        plt.close(figure)
    for name, table in tables.items():
        mlflow.log_text(table.to_csv(index=False), f"evaluation/{name}")


def snapshot_params(data_dir: Path, plan, rows: dict[str, int]) -> dict[str, Any]:
    """Which extract and which snapshots a run trained, validated and tested on."""
    from features.validation import attribute_source

    return {
        "data.fingerprint": data_fingerprint(data_dir),
        "data.customer_attributes": attribute_source(data_dir),
        "data.train_snapshots": ",".join(map(str, plan.train)),
        "data.valid_snapshot": str(plan.valid),
        "data.test_snapshot": str(plan.test),
        "data.rows_train": rows["train"],
        "data.rows_valid": rows["valid"],
        "data.rows_test": rows["test"],
    }


def log_fit(fit) -> None:
    """What the fit decided: weight of positives, the calibration (and the cross-validated
    log losses `auto` chose it by), and the settings tuning chose if it ran."""
    values = {"fit.best_iteration": fit.best_iteration}
    if fit.positive_weight == fit.positive_weight:
        values["fit.positive_weight"] = round(fit.positive_weight, 4)
    values |= {f"fit.tuned.{key}": value for key, value in (fit.tuned or {}).items()}
    values["fit.calibration"] = fit.calibration
    values |= {
        f"fit.calibration_cv_log_loss.{method}": round(loss, 6)
        for method, loss in (fit.calibration_cv_log_loss or {}).items()
    }
    mlflow.log_params(values)


def pip_requirements() -> list[str]:
    """What a logged model needs to load elsewhere: the versions it was trained with."""
    import lightgbm
    import numpy
    import pandas
    import sklearn

    return [
        f"lightgbm=={lightgbm.__version__}",
        f"numpy=={numpy.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"pandas=={pandas.__version__}",
        f"mlflow=={mlflow.__version__}",
    ]


@contextmanager
def stage(timings: dict[str, float], name: str) -> Iterator[None]:
    """Record the wall time of a block under `name`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


def log_timings(run_id: str, timings: dict[str, float]) -> None:
    """Stage times as metrics `seconds_<stage>` of a finished run."""
    client = MlflowClient()
    for name, seconds in timings.items():
        client.log_metric(run_id, f"seconds_{name}", round(seconds, 3))
