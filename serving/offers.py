"""Cross-sell offers: eligible products ranked by expected value, the top-k lists, and the
reason each listed product suits the customer.

An offer's reason is what a caller can say: that the customer has no product of its kind
yet, the recent event that raises its propensity most (the product model's SHAP value; a
profile feature such as age is no reason, `serving.reasons.is_event`), whether the salary
is paid here, and that the product's risk is within the customer's risk appetite (the
suitability rule that made it eligible)."""

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
from serving.reasons import is_event, phrase
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
    found = np.isfinite(best_value)
    offers = pd.DataFrame(
        {
            "product_id": np.asarray(ids, dtype=object)[best] if len(ids) else "",
            "product_name": np.where(found, np.asarray(names, dtype=object)[best], "")
            if len(ids)
            else "",
            "expected_value": np.where(found, best_value, np.nan),
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
    max_age_days: float = 365,
) -> list[list[dict]]:
    """Each listed product gets the reason it suits this customer (module docstring); in
    batch only for customers with an offer.

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
        product = champions.catalogue.loc[product_id]
        for k, i in enumerate(rows):
            event = _strongest_event(
                contributions[k, : len(names)], names, views[k], as_of, max_age_days
            )
            text = offer_reason(product, event, views[k])
            for item in products[i]:
                if item["product_id"] == product_id:
                    item["reason"] = text
    return products


def _strongest_event(contributions, names, row, as_of, max_age_days) -> str | None:
    """The phrase of the event raising the propensity most, if any does."""
    for j in np.argsort(-contributions, kind="stable"):
        if contributions[j] <= 0:
            return None
        if names[j] != "product_id" and is_event(names[j], row.get(names[j]), max_age_days):
            return phrase(names[j], row.get(names[j]), row, as_of)
    return None


FAMILY_WORDS = {
    "current_account": "current account",
    "savings": "savings product",
    "time_deposit": "time deposit",
    "credit_card": "credit card",
    "personal_loan": "personal loan",
    "mortgage": "mortgage",
    "funds": "investment fund",
    "insurance": "insurance",
    "pension": "pension",
}


def offer_reason(product, event: str | None, row) -> str:
    """Why `product` (its catalogue row: family, risk_level) suits the customer of `row`:
    e.g. "no savings product yet; 4,200 paid in over 30 days; salary paid here; risk 1
    within appetite 3 of 5"."""
    parts = []
    family = str(product.get("family", ""))
    if family in FAMILY_WORDS and not _number(row.get(f"held_family__{family}")):
        parts.append(f"no {FAMILY_WORDS[family]} yet")
    if event:
        parts.append(event)
    if _number(row.get("salary_present")) >= 1:
        parts.append("salary paid here")
    appetite, risk = _number(row.get("risk_appetite")), _number(product.get("risk_level"))
    if appetite and risk:
        parts.append(f"risk {risk:.0f} within appetite {appetite:.0f} of 5")
    return "; ".join(parts) or "the best expected value among the eligible products"


def _number(value) -> float:
    """A feature as a number, 0 when missing or not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0
