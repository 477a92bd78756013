"""The one decision function: scores, reasons, products and the next best action.

The API, batch scoring and notebooks all call `decide`. It works on a feature frame (one
row per customer, as `retain features build` writes it) or the online store's rows, and is
vectorised, so one customer and a million go through the same code. Its steps: churn
scores and risk bands; the tier's policy; the ranked products (`serving.offers`); each
action's rule (`serving.actions`); routing (`serving.tiers`); reasons (`serving.reasons`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import numpy as np
import pandas as pd

from common.config import ServingConfig
from serving.actions import (
    ACTIONS,
    CALLBACKS,
    COMPLAINT_FOLLOW_UP,
    CROSS_SELL_OFFER,
    MARKETING,
    NO_ACTION,
    RETENTION_CALLBACK,
    WELCOME_CALLBACK,
    WIN_BACK_CALL,
    ContactHistory,
    expected_values,
    explain,
    next_best_actions,
)
from serving.exploration import Exploration
from serving.models import Champions
from serving.offers import ProductRanking, add_product_reasons, rank_products, top_products
from serving.reasons import top_reasons
from serving.rows import FeatureRows, predict
from serving.tiers import churn_thresholds, route, tiers_of

__all__ = [  # the actions' names are read from here too: they are the decision's vocabulary
    "ACTIONS",
    "CALLBACKS",
    "COMPLAINT_FOLLOW_UP",
    "CROSS_SELL_OFFER",
    "MARKETING",
    "NO_ACTION",
    "RETENTION_CALLBACK",
    "RISK_BANDS",
    "WELCOME_CALLBACK",
    "WIN_BACK_CALL",
    "Decisions",
    "churn_reasons",
    "decide",
    "predict_uplift",
]

RISK_BANDS = ("low", "medium", "high", "very high")
EXPLORATION_WHY = (
    "exploration: drawn at random from customers the targeting would not call, so the next "
    "uplift model learns whom a call keeps among them"
)


@dataclass(frozen=True)
class Decisions:
    """One row per customer. `columns` (and `frame`): customer_id, as_of, tier,
    churn_probability, risk_band, customer_value, action, why, priority, expected_value,
    product_id, product_name, channel, queue, assignee, due_at; `reasons` and `products`
    are lists per row."""

    columns: dict[str, np.ndarray]
    reasons: list[list[dict]]
    products: list[list[dict]]
    versions: dict[str, str]

    @cached_property  # the API never needs it: a frame of a few rows costs more than a decision
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns)

    def rows(self) -> list[dict]:
        """The columns as one dict per customer."""
        names = list(self.columns)
        return [
            dict(zip(names, values, strict=True))
            for values in zip(*self.columns.values(), strict=True)
        ]

    def records(self) -> list[dict]:
        """JSON-ready, one dict per customer (the API's response items)."""
        out = []
        for i, row in enumerate(self.rows()):
            action = None
            if row["action"] != NO_ACTION:
                action = {
                    "type": row["action"],
                    "why": row["why"],
                    "priority": int(row["priority"]),
                    "expected_value": _round(row["expected_value"]),
                    "channel": row["channel"],
                    "queue": row["queue"],
                    "assignee": row["assignee"],
                    "due_at": None if pd.isna(row["due_at"]) else _iso(row["due_at"]),
                    "product_id": row["product_id"] or None,
                    "product_name": row["product_name"] or None,
                }
            out.append(
                {
                    "customer_id": row["customer_id"],
                    "as_of": _iso(row["as_of"]),
                    "tier": row["tier"],
                    "churn_probability": _round(row["churn_probability"], 4),
                    "risk_band": row["risk_band"],
                    "customer_value": _round(row["customer_value"]),
                    "reasons": self.reasons[i],
                    "products": self.products[i],
                    "next_best_action": action or {"type": NO_ACTION, "why": row["why"]},
                }
            )
        return out


def _round(value, digits: int = 2):
    return None if value is None or pd.isna(value) else round(float(value), digits)


def _iso(value) -> str:
    return pd.Timestamp(value).isoformat()


def decide(
    features: pd.DataFrame | FeatureRows,
    champions: Champions,
    config: ServingConfig,
    now: datetime,
    reasons_for: str = "actions",
    scope: str = "all",
    exploration: Exploration | None = None,
) -> Decisions:
    """Decide for every customer of a feature frame.

    Args:
        features: model features with `customer_id`, `as_of` and `tier`: a frame, or
            `FeatureRows` (the online store's look-ups).
        champions: the models in use.
        config: thresholds, routing, cooldown.
        now: when the decision is made (due times count from here).
        reasons_for: `all` rows, or `none`, or (batch) only rows with an `actions`: then
            the top-k product lists too are only built for those rows.
        scope: `all`, or `score` for the churn part only (probability, band, reasons):
            no products and no action are computed, and `action` is left empty.
        exploration: a campaign list's randomised slice of retention calls
            (`serving.exploration`); adds the columns `exploration` and
            `assignment_probability`.

    Returns:
        One decision per customer, in the order of `features`.
    """
    rows = FeatureRows.of(features)
    matrix = rows.matrix(champions.churn)
    columns = churn_scores(rows, matrix, champions, config)
    if scope == "score":
        return _scores_only(rows, matrix, columns, champions, config, now, reasons_for)

    offers, ranking = rank_products(rows, champions, config)
    offer_value = offers["expected_value"].to_numpy()
    history = ContactHistory.of(rows, config)
    threshold = churn_thresholds(columns["tier"], config)
    columns["uplift"] = _uplift(rows, champions, config)
    action = next_best_actions(columns, threshold, offer_value, history, config)
    routing = route(columns["tier"], action, rows, history, config, now)
    if exploration is not None:
        action = _explore(exploration, action, routing, columns, rows, history, config, now)
    columns["action"] = action
    columns["why"] = explain(action, columns, threshold, offers, history, config)
    if exploration is not None:
        columns["why"][columns["exploration"]] = EXPLORATION_WHY
    columns.update(routing)
    columns["expected_value"] = expected_values(action, columns, offer_value)
    columns["product_id"] = np.where(action == CROSS_SELL_OFFER, offers["product_id"], "")
    columns["product_name"] = np.where(action == CROSS_SELL_OFFER, offers["product_name"], "")
    reasons, products = _reasons_and_products(
        rows, matrix, ranking, action, champions, config, now, reasons_for
    )
    return Decisions(columns, reasons, products, champions.versions)


def _explore(
    exploration: Exploration,
    action: np.ndarray,
    routing: dict[str, np.ndarray],
    columns: dict[str, np.ndarray],
    rows: FeatureRows,
    history: ContactHistory,
    config: ServingConfig,
    now: datetime,
) -> np.ndarray:
    """The exploration slice's draw: its customers get a retention call, routed like any
    other (`routing` is updated in place); records who was drawn and every customer's
    assignment probability in `columns`."""
    tier = columns["tier"]
    contactable = (tier != "churned") & ~history.cooldown & ~history.do_not_contact
    capacity = {queue: n * config.schedule_days for queue, n in config.calls_per_day.items()}
    ids = np.asarray(columns["customer_id"], dtype=object)
    # Where a retention call to each customer the slice may draw would go.
    pool = np.flatnonzero(contactable & (action == NO_ACTION))
    calls = np.full(len(pool), RETENTION_CALLBACK, dtype=object)
    candidate = route(tier[pool], calls, rows.take(pool), history.take(pool), config, now)
    candidate_queue = np.asarray(routing["queue"], dtype=object).copy()
    candidate_queue[pool] = candidate["queue"]
    explored, probability = exploration.draw(
        action, routing["queue"], candidate_queue, ids, contactable, capacity
    )
    columns["exploration"] = explored
    columns["assignment_probability"] = probability
    if not explored.any():
        return action
    action = np.where(explored, RETENTION_CALLBACK, action)
    chosen = np.flatnonzero(explored[pool])
    for name, values in candidate.items():
        routing[name] = routing[name].copy()  # some of route's arrays are read-only views
        routing[name][pool[chosen]] = np.asarray(values)[chosen]
    return action


def churn_scores(
    rows: FeatureRows, matrix: np.ndarray, champions: Champions, config: ServingConfig
) -> dict[str, np.ndarray]:
    """The columns every decision has, whatever its scope: who, as of when, tier, the
    calibrated churn probability, its risk band and the customer's value.

    Args:
        rows: the customers' features.
        matrix: their churn model inputs, already encoded.
        champions: the models in use (the churn champion scores).
        config: the risk bands' edges.
    """
    model = champions.churn
    churn = model.calibration.apply(predict(model.booster, matrix))
    band = np.asarray(RISK_BANDS)[np.searchsorted(config.risk_band_edges, churn, side="right")]
    return {
        "customer_id": rows.column("customer_id").astype(str),
        "as_of": rows.as_of(),
        "tier": tiers_of(rows),
        "churn_probability": churn,
        "risk_band": band,
        "customer_value": rows.numeric("customer_value", 0.0),
    }


def _uplift(rows: FeatureRows, champions: Champions, config: ServingConfig) -> np.ndarray:
    """The uplift model's expected fall of the churn probability (uplift targeting only;
    NaN otherwise)."""
    if config.targeting != "uplift":
        return np.full(len(rows), np.nan)
    return predict_uplift(rows, champions.uplift)


def _reasons_and_products(
    rows: FeatureRows,
    matrix: np.ndarray,
    ranking: ProductRanking,
    action: np.ndarray,
    champions: Champions,
    config: ServingConfig,
    now: datetime,
    reasons_for: str,
) -> tuple[list[list[dict]], list[list[dict]]]:
    """Churn reasons and the top-k product lists (with their reasons) of the rows
    `reasons_for` asks for; empty lists elsewhere."""
    n = len(rows)
    acting = np.flatnonzero(action != NO_ACTION)
    # Batch (`actions`) lists products only where there is an action: the lists are
    # Python objects, and a million of them cost more than the decisions.
    products = top_products(ranking, acting if reasons_for == "actions" else np.arange(n), n)
    reasons: list[list[dict]] = [[] for _ in range(n)]
    if reasons_for == "none":
        return reasons, products
    chosen = np.arange(n) if reasons_for == "all" else acting
    if len(chosen) and config.reasons:
        found = churn_reasons(rows.take(chosen), matrix[chosen], champions, config, now)
        for i, row_reasons in zip(chosen, found, strict=True):
            reasons[i] = row_reasons
    products = add_product_reasons(
        products, rows.frame, champions, action, reasons_for, now, config.reason_max_age_days
    )
    return reasons, products


def _scores_only(rows, matrix, columns, champions, config, now, reasons_for) -> Decisions:
    """The churn part of a decision: what `/score` answers, at a fraction of the cost."""
    n = len(rows)
    empty = np.full(n, "", dtype=object)
    columns |= {
        "action": empty,
        "why": empty,
        "priority": np.zeros(n, dtype="int64"),
        "expected_value": np.full(n, np.nan),
        "product_id": empty,
        "product_name": empty,
        "channel": empty,
        "queue": empty,
        "assignee": empty,
        "due_at": np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"),
    }
    reasons: list[list[dict]] = [[] for _ in range(n)]
    if reasons_for != "none" and config.reasons and n:
        reasons = churn_reasons(rows, matrix, champions, config, now)
    return Decisions(columns, reasons, [[] for _ in range(n)], champions.versions)


def churn_reasons(
    rows: FeatureRows,
    matrix: np.ndarray,
    champions: Champions,
    config: ServingConfig,
    as_of: datetime,
) -> list[list[dict]]:
    """Top churn reasons per row from the churn booster's own SHAP values (`matrix`: the
    rows' churn model inputs, already encoded for the score)."""
    model = champions.churn
    contributions = predict(model.booster, matrix, pred_contrib=True)
    names = list(model.schema.features)
    return top_reasons(
        contributions, rows.dicts(), names, as_of, config.reasons, config.reason_max_age_days
    )


def predict_uplift(rows: FeatureRows, model) -> np.ndarray:
    """The uplift model's expected fall of the churn probability if called: its churn
    baseline brought to the campaign period's level, and the log-odds shift a call makes
    (`retain-uplift-churn`)."""
    baseline = model.baseline.calibration.apply(
        predict(model.baseline.booster, rows.matrix(model.baseline))
    )
    shift = predict(model.shift.booster, rows.matrix(model.shift), raw_score=True)
    clipped = np.clip(baseline, 1e-4, 1 - 1e-4)
    not_called = np.log(clipped / (1 - clipped)) + model.level  # the campaign period's level
    return 1 / (1 + np.exp(-not_called)) - 1 / (1 + np.exp(-(not_called + shift)))
