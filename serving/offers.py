"""Cross-sell offers: eligible products ranked by expected value, the top-k lists, and the
reason each listed product suits the customer."""

from __future__ import annotations

import math
from datetime import datetime
from typing import NamedTuple

import numpy as np
import pandas as pd

from common.config import ServingConfig
from features.suitability import CAUTIOUS_APPETITE, suitable_products
from serving.actions import CROSS_SELL_OFFER
from serving.models import Champions
from serving.reasons import phrase
from serving.rows import FeatureRows


class ProductRanking(NamedTuple):
    """Every customer's products, best first: `order` holds the top-k column indices of
    `ids` per row; `value` is -inf where a product is not eligible."""

    ids: list[str]
    names: list[str]
    scores: np.ndarray  # propensity, customers × products
    value: np.ndarray  # propensity × margin, customers × products
    order: np.ndarray  # customers × top-k


def rank_products(
    rows: FeatureRows, champions: Champions, config: ServingConfig
) -> tuple[pd.DataFrame, ProductRanking]:
    """Eligible products per customer ranked by expected value (propensity × margin).

    Returns:
        The best offer per row (`product_id`, `expected_value`: NaN when no product is
        eligible) and the ranking the top-k lists are read from.
    """
    features = rows.frame
    propensity = champions.xsell.predict_proba(features)
    ids = list(propensity.columns)
    scores = propensity.to_numpy(dtype="float64")
    listed = champions.catalogue.reindex(ids)
    margin = listed.get("margin", pd.Series(0.0, index=ids)).fillna(0.0)
    eligible = _eligible(scores, listed, rows)
    value = np.where(eligible, scores * margin.to_numpy(dtype="float64")[None, :], -np.inf)
    order = np.argsort(-value, axis=1, kind="stable")[:, : config.top_k_products]
    names = listed.get("name", pd.Series(ids, index=ids)).fillna("").astype(str).tolist()
    best = order[:, 0] if len(ids) else np.zeros(len(features), dtype=int)
    best_value = (
        value[np.arange(len(features)), best] if len(ids) else np.full(len(features), -np.inf)
    )
    offers = pd.DataFrame(
        {
            "product_id": np.asarray(ids, dtype=object)[best] if len(ids) else "",
            "expected_value": np.where(np.isfinite(best_value), best_value, np.nan),
        }
    )
    return offers, ProductRanking(ids, names, scores, value, order)


def _eligible(scores: np.ndarray, listed: pd.DataFrame, rows: FeatureRows) -> np.ndarray:
    """Products a customer may be offered: never a held product (no propensity), and only
    what the suitability rule allows (`features.suitability`: risk within the customer's
    risk appetite, minimum age met)."""
    ids = listed.index
    return ~np.isnan(scores) & suitable_products(
        listed["risk_level"].to_numpy(dtype="float64"),
        listed.get("min_age", pd.Series(0, index=ids)).fillna(0).to_numpy(dtype="float64"),
        rows.numeric("risk_appetite", CAUTIOUS_APPETITE),
        rows.numeric("age_years"),
    )


def top_products(ranking: ProductRanking, chosen: np.ndarray, n: int) -> list[list[dict]]:
    """The top-k eligible products of the chosen rows (empty lists elsewhere), with plain
    Python values: numpy scalar access per item costs ~10× more."""
    ids, names, scores, value, order = ranking
    lists: list[list[dict]] = [[] for _ in range(n)]
    picked = order[chosen]
    top_scores = np.round(np.take_along_axis(scores[chosen], picked, axis=1), 4).tolist()
    top_values = np.round(np.take_along_axis(value[chosen], picked, axis=1), 2).tolist()
    for position, (i, order_row) in enumerate(zip(chosen.tolist(), picked.tolist(), strict=True)):
        lists[i] = [
            {
                "product_id": ids[j],
                "name": names[j],
                "propensity": top_scores[position][k],
                "expected_value": top_values[position][k],
            }
            for k, j in enumerate(order_row)
            if math.isfinite(top_values[position][k])
        ]
    return lists


def add_product_reasons(
    products: list[list[dict]],
    features: pd.DataFrame,
    champions: Champions,
    action: np.ndarray,
    reasons_for: str,
    as_of: datetime,
) -> list[list[dict]]:
    """Each listed product gets the feature that raises its propensity most for this
    customer (the product model's SHAP value); in batch only for customers with an offer.

    Returns:
        `products`, its items given a `reason` in place.
    """
    xsell = champions.xsell
    wanted: dict[str, list[int]] = {}
    for i, listed in enumerate(products):
        if reasons_for == "all" or action[i] == CROSS_SELL_OFFER:
            for item in listed:
                wanted.setdefault(item["product_id"], []).append(i)
    for product_id, rows in wanted.items():
        if xsell.pooled is not None:
            model = xsell.pooled
            data = features.iloc[rows].assign(product_id=product_id)
        else:
            model = xsell.per_product[product_id]
            data = features.iloc[rows]
        names = list(model.schema.features)
        contributions = model.contributions(data)
        views = FeatureRows(frame=data).dicts()
        for k, i in enumerate(rows):
            row_contributions = contributions[k, : len(names)].copy()
            if "product_id" in names:  # the pooled model's product column is no reason
                row_contributions[names.index("product_id")] = -np.inf
            j = int(np.argmax(row_contributions))
            text = phrase(names[j], views[k][names[j]], views[k], as_of)
            for item in products[i]:
                if item["product_id"] == product_id:
                    item["reason"] = text
    return products
