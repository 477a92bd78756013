"""How a cross-sell run is judged on its test snapshot: ranking, the served offer, each
product's ROC AUC, probability quality over pairs, and MAP@7 per tier."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from evaluation.metrics import binary_metrics, ranking_metrics, served_precision_at_1
from features.suitability import suitable_products
from training.contenders import LIGHTGBM, LOGISTIC, ORACLE, POPULARITY


@dataclass(frozen=True)
class ServedOffer:
    """What serving's one offer is chosen from: each product's margin and which products
    the suitability rule allows each test customer (`features.suitability`)."""

    margin: np.ndarray  # per product
    suitable: np.ndarray  # customers × products

    @classmethod
    def for_rows(cls, rows: pd.DataFrame, records: tuple[dict, ...], products: list[str]):
        """The catalogue `records` of `products` applied to the feature `rows`."""
        by_id = {record["product_id"]: record for record in records}
        missing = [pid for pid in products if pid not in by_id]
        if missing:
            raise KeyError(f"products table lacks product(s) {missing}")
        listed = [by_id[pid] for pid in products]

        def column(name: str, fill: float) -> np.ndarray:
            values = [record.get(name) for record in listed]
            return np.array([fill if v is None else v for v in values], dtype="float64")

        suitable = suitable_products(
            column("risk_level", np.nan),
            column("min_age", 0.0),
            pd.to_numeric(rows["risk_appetite"], errors="coerce").to_numpy(dtype="float64"),
            pd.to_numeric(rows["age_years"], errors="coerce").to_numpy(dtype="float64"),
        )
        return cls(np.nan_to_num(column("margin", 0.0)), suitable)


def product_table(
    labels: np.ndarray, scores: dict[str, np.ndarray], products: list[str]
) -> pd.DataFrame:
    """Per product on the test snapshot: offered, adopters, rates, ROC AUC of each model."""
    rows = []
    for j, pid in enumerate(products):
        offered = ~np.isnan(labels[:, j])
        y = labels[offered, j]
        row = {
            "product_id": pid,
            "offered": int(offered.sum()),
            "adopters": int(y.sum()),
            "adoption_rate": float(y.mean()) if len(y) else float("nan"),
        }
        for name, matrix in scores.items():
            values = np.nan_to_num(matrix[offered, j])
            row[f"mean_predicted {name}"] = float(values.mean()) if len(y) else float("nan")
            both = len(np.unique(y)) == 2
            row[f"roc_auc {name}"] = float(roc_auc_score(y, values)) if both else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def cross_sell_metrics(
    labels: np.ndarray,
    scores: dict[str, np.ndarray],
    products: list[str],
    served: ServedOffer | None = None,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Ranking metrics over customers, the served offer's precision (`served_*`, when
    `served` says what may be offered), per-product ROC AUC, and probability quality over
    all (customer, product) pairs on offer (`pooled_*`); baselines and oracle prefixed."""
    metrics: dict[str, float] = {}
    contenders = {c.title: c for c in (LIGHTGBM, LOGISTIC, POPULARITY, ORACLE)}
    offered = ~np.isnan(labels)
    for name, matrix in scores.items():
        contender = contenders[name]
        metrics |= ranking_metrics(labels, matrix, prefix=contender.prefix)
        if served is not None:
            metrics |= served_precision_at_1(
                labels, matrix, served.margin, served.suitable, prefix=contender.prefix
            )
        pooled = binary_metrics(labels[offered], np.nan_to_num(matrix[offered]))
        metrics |= {contender.key(f"pooled_{key}"): value for key, value in pooled.items()}
    table = product_table(labels, scores, products)
    for name, contender in contenders.items():
        if name not in scores or contender == POPULARITY:  # one score per product: AUC 0.5
            continue
        for pid, auc in zip(table["product_id"], table[f"roc_auc {name}"], strict=True):
            metrics[contender.key(f"roc_auc__{pid}")] = float(auc)
    return metrics, table


def tier_table(test: pd.DataFrame, labels: np.ndarray, scores: dict[str, np.ndarray]):
    """Per customer tier: customers, buyers, MAP@7 of the model and of each baseline."""
    tiers = test["tier"].astype(str).to_numpy()
    rows = []
    for tier in sorted(set(tiers)):
        mask = tiers == tier
        row = {
            "tier": tier,
            "customers": int(mask.sum()),
            "buyers": int((np.nan_to_num(labels[mask]) > 0).any(axis=1).sum()),
        }
        for name, matrix in scores.items():
            row[f"map_at_7 {name}"] = ranking_metrics(labels[mask], matrix[mask])["map_at_7"]
        rows.append(row)
    return pd.DataFrame(rows)
