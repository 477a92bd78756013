"""Snapshot-table mode: a bank's own one-row-per-customer export, with a target column."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from common.config import RetainConfig
from common.errors import DataError
from training import report, tracking
from training.model_logging import register_binary_model
from training.model_run import (
    BinaryComparison,
    RunRecord,
    binary_figures,
    compare_binary,
    largest_shifts,
    log_and_register,
)
from training.rules import column_rule

LABEL = "_label"
TEST_SHARE = 0.2


@dataclass(frozen=True)
class TableTask:
    """What to learn from a snapshot table and how to split it."""

    path: Path
    target: str
    positive: str
    name: str
    id_column: str | None = None
    order_by: str | None = None
    file_order: bool = False
    drop: tuple[str, ...] = ()

    @property
    def out_of_time(self) -> bool:
        return self.order_by is not None or self.file_order


@dataclass
class TableResult:
    metrics: dict[str, float]
    features: list[str]
    dropped: dict[str, str]
    rows: dict[str, int]
    run_id: str
    version: str
    aliases: list[str]
    split: str
    drift_warning: str | None = None
    rule_feature: str = ""
    notes: list[str] = field(default_factory=list)


def read_table(path: Path) -> pd.DataFrame:
    """CSV (`;` or `,`, detected from the header line) or Parquet."""
    if not path.exists():
        raise DataError(f"table file {path} does not exist")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    with path.open(newline="") as handle:
        header = handle.readline()
    try:
        separator = csv.Sniffer().sniff(header, delimiters=";,\t|").delimiter
    except csv.Error:
        raise DataError(
            f"{path}: cannot tell the column separator from its header {header[:80]!r}"
        ) from None
    return pd.read_csv(path, sep=separator)


def prepare(frame: pd.DataFrame, task: TableTask) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    """Label column, feature columns with declared types, and what was left out and why."""
    columns = list(frame.columns)
    for role, column in (
        ("--target", task.target),
        ("--id", task.id_column),
        ("--order-by", task.order_by),
        *[("--drop", c) for c in task.drop],
    ):
        if column is not None and column not in frame:
            raise DataError(
                f"{task.path.name}: {role} column {column!r} not found; columns "
                f"are {', '.join(columns)}"
            )
    target = frame[task.target].astype(str).str.strip()
    if task.positive not in set(target):
        seen = ", ".join(sorted(set(target))[:10])
        raise DataError(
            f"{task.path.name}: --positive {task.positive!r} never occurs in "
            f"{task.target!r} (values: {seen})"
        )
    if target.isna().any() or frame[task.target].isna().any():
        raise DataError(f"{task.path.name}: {task.target!r} has missing values")
    dropped = {task.target: "target"}
    dropped |= {c: "--drop" for c in task.drop}
    if task.id_column:
        dropped[task.id_column] = "--id"
    if task.order_by:
        dropped[task.order_by] = "--order-by (time, not a feature)"
    out = pd.DataFrame(index=frame.index)
    features = []
    for column in columns:
        if column in dropped:
            continue
        values = frame[column]
        distinct = values.nunique(dropna=True)
        if distinct == len(frame) and not pd.api.types.is_float_dtype(values):
            dropped[column] = "unique per row: an identifier"
            continue
        if distinct <= 1:
            dropped[column] = "constant"
            continue
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            out[column] = values.astype("float64")
        else:
            if distinct > max(50, 0.05 * len(frame)):
                # Surnames, addresses, free text: personal data and no signal a model can
                # generalise; never a model input, never in a logged example.
                dropped[column] = f"text with {distinct:,} distinct values: name or free text"
                continue
            out[column] = values.astype(str).where(values.notna(), None).astype("category")
        features.append(column)
    out[LABEL] = (target == task.positive).astype(float).to_numpy()
    return out, features, dropped


def split(
    frame: pd.DataFrame, task: TableTask, seed: int, order: pd.Series | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """Out of time (last 20 % test, the 20 % before it validation) when an order is given,
    else stratified random 80/20 with a fixed seed (and 20 % of training for validation)."""
    if task.out_of_time:
        ordered = (
            frame.iloc[np.argsort(order.to_numpy(), kind="stable")] if order is not None else frame
        )
        n = len(ordered)
        test_start = int(n * (1 - TEST_SHARE))
        valid_start = int(test_start * (1 - TEST_SHARE))
        how = f"out of time by {task.order_by}" if task.order_by else "out of time (file order)"
        return (
            ordered.iloc[:valid_start],
            ordered.iloc[valid_start:test_start],
            ordered.iloc[test_start:],
            how,
        )
    rest, test = train_test_split(
        frame, test_size=TEST_SHARE, random_state=seed, stratify=frame[LABEL]
    )
    train, valid = train_test_split(
        rest, test_size=TEST_SHARE, random_state=seed, stratify=rest[LABEL]
    )
    return train, valid, test, f"stratified random 80/20, seed {seed}"


def backtest_table(task: TableTask, config: RetainConfig, origins: int) -> pd.DataFrame:
    """Rolling origins over a time-ordered table: each origin tests on the next block of
    rows (20 %, or 1/(K+1) of the table when K > 4), trains on everything before it with
    its last 20 % as validation. One row of test metrics per origin."""
    from sklearn.model_selection import TimeSeriesSplit

    from training.backtest import evaluate_origins

    if not task.out_of_time:
        raise DataError("--backtest needs a time order: give --order-by COL or --file-order")
    raw = read_table(task.path)
    frame, features, _ = prepare(raw, task)
    if task.order_by:
        frame = frame.iloc[np.argsort(raw[task.order_by].to_numpy(), kind="stable")]
    test_rows = min(int(len(frame) * TEST_SHARE), len(frame) // (origins + 1))
    folds = TimeSeriesSplit(n_splits=origins, test_size=test_rows)

    def splits():
        for number, (before, after) in enumerate(folds.split(frame), start=1):
            valid_start = int(len(before) * (1 - TEST_SHARE))
            train, valid = frame.iloc[before[:valid_start]], frame.iloc[before[valid_start:]]
            test = frame.iloc[after]
            if min(part[LABEL].nunique() for part in (train, valid, test)) < 2:
                raise DataError(
                    f"{task.path.name}: origin {number} of {origins} has a part with one "
                    "class only: use fewer origins"
                )
            yield f"rows {after[0]:,}–{after[-1]:,}", train, valid, test

    return evaluate_origins(splits(), LABEL, features, config.training)


def best_single_feature(train: pd.DataFrame, features: list[str]) -> str:
    """The rule baseline's feature: the numeric column that alone ranks best on training."""
    best, best_strength = features[0], -1.0
    for name in features:
        if isinstance(train[name].dtype, pd.CategoricalDtype):
            continue
        values = train[name].fillna(train[name].median())
        if values.nunique() < 2:
            continue
        strength = abs(roc_auc_score(train[LABEL], values) - 0.5)
        if strength > best_strength:
            best, best_strength = name, strength
    return best


def train_table(task: TableTask, config: RetainConfig) -> TableResult:
    """Fit, evaluate against baselines, check drift, log and register `task.name`."""
    raw = read_table(task.path)
    frame, features, dropped = prepare(raw, task)
    order = raw[task.order_by] if task.order_by else None
    train, valid, test, how = split(frame, task, config.training.seed, order)
    for part, rows in (("training", train), ("validation", valid), ("test", test)):
        if rows[LABEL].nunique() < 2:
            raise DataError(f"{task.path.name}: the {part} part has one class only")
    rule_feature = best_single_feature(train, features)
    comparison = compare_binary(
        train, valid, test, LABEL, features, config.training, (column_rule(rule_feature),)
    )
    rows = {"train": len(train), "valid": len(valid), "test": len(test)}
    record = RunRecord(
        run_name=f"table {task.name}",
        model_name=task.name,
        params=tracking.flatten(config.training.model_dump(mode="json"), "training.")
        | _data_params(task, how, rows, features, dropped),
        metrics=comparison.metrics,
        fit=comparison.fit,
        # Table mode has always drawn its SHAP sample with seed 0.
        figures=binary_figures(comparison, test, seed=0),
        tables={"feature_drift.csv": comparison.drift},
    )
    registration = log_and_register(
        record, config.training, partial(register_binary_model, comparison.model, test, task.name)
    )
    return TableResult(
        comparison.metrics,
        features,
        dropped,
        rows,
        registration.run_id,
        registration.version,
        registration.aliases,
        how,
        _drift_warning(comparison),
        rule_feature,
    )


def _drift_warning(comparison: BinaryComparison) -> str | None:
    """A warning when the positive rate or a feature shifts between training and test:
    a table's one split then says little about the next period."""
    metrics = comparison.metrics
    train, test = metrics["label_rate_train"], metrics["label_rate_test"]
    label_shift = max(train, test) > 1.5 * max(min(train, test), 1e-9)
    if not (metrics["max_feature_psi"] > report.PSI_WARNING or label_shift):
        return None
    return (
        f"train and test differ: positive rate {train:.1%} → {test:.1%}; largest feature "
        f"shifts (PSI) {largest_shifts(comparison.drift)}. One split can mislead here: "
        "compare several periods."
    )


def _data_params(
    task: TableTask, how: str, rows: dict[str, int], features: list[str], dropped: dict
) -> dict:
    """Which file, target and split a table-mode run used, and what it left out."""
    return {
        "data.file": task.path.name,
        "data.fingerprint": tracking.data_fingerprint(task.path.parent)
        if task.path.parent.is_dir()
        else "",
        "data.target": task.target,
        "data.positive": task.positive,
        "data.split": how,
        "data.rows_train": rows["train"],
        "data.rows_valid": rows["valid"],
        "data.rows_test": rows["test"],
        "data.features": len(features),
        "data.dropped": "; ".join(f"{k}: {v}" for k, v in dropped.items())[:6000],
    }
