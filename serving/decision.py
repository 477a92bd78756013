"""The one decision function: scores, reasons, products and the next best action.

The API, batch scoring and notebooks all call `decide`. It works on a feature frame (one
row per customer, as `retain features build` writes it) or the online store's rows, and is
vectorised, so one customer and a million go through the same code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

import numpy as np
import pandas as pd

from common.config import ServingConfig
from serving.models import Champions
from serving.reasons import phrase, top_reasons
from serving.rows import FeatureRows, predict

# In order of precedence: a customer gets the first that applies.
COMPLAINT_FOLLOW_UP = "complaint_follow_up"
RETENTION_CALLBACK = "retention_callback"
WELCOME_CALLBACK = "welcome_callback"
WIN_BACK_CALL = "win_back_call"
CROSS_SELL_OFFER = "cross_sell_offer"
NO_ACTION = "none"
ACTIONS = (
    COMPLAINT_FOLLOW_UP,
    RETENTION_CALLBACK,
    WELCOME_CALLBACK,
    WIN_BACK_CALL,
    CROSS_SELL_OFFER,
    NO_ACTION,
)
CALLBACKS = (COMPLAINT_FOLLOW_UP, RETENTION_CALLBACK, WELCOME_CALLBACK, WIN_BACK_CALL)
# Contacts the cooldown holds back (service calls owed are never held back).
MARKETING = (RETENTION_CALLBACK, WIN_BACK_CALL, CROSS_SELL_OFFER)
RISK_BANDS = ("low", "medium", "high", "very high")


@dataclass(frozen=True)
class Decisions:
    """One row per customer. `columns` (and `frame`): customer_id, as_of, tier,
    churn_probability, risk_band, customer_value, action, why, priority, expected_value,
    product_id, channel, queue, assignee, due_at; `reasons` and `products` are lists per
    row."""

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
    """
    rows = FeatureRows.of(features)
    n = len(rows)
    matrix = rows.matrix(champions.churn)
    churn = champions.churn.calibration.apply(predict(champions.churn.booster, matrix))
    band = np.asarray(RISK_BANDS)[np.searchsorted(config.risk_band_edges, churn, side="right")]
    tier = rows.column("tier")
    tier[pd.isna(tier)] = "general"
    value = rows.numeric("customer_value", 0.0)
    columns = _churn_part(rows, tier, churn, band, value)
    if scope == "score":
        return _scores_only(rows, matrix, columns, champions, config, now, reasons_for)

    offers, ranking = _products(rows, champions, config)
    best_offer_value = offers["expected_value"].to_numpy()

    days_resolved = rows.numeric("days_since_complaint_resolved")
    days_called = rows.numeric("days_since_last_callback")
    days_opened = rows.numeric("product_tenure_days")
    days_closed = rows.numeric("days_since_last_product_closed")
    called_since = lambda days: days_called <= days  # noqa: E731  (NaN: never called)
    do_not_contact = rows.numeric("do_not_contact", 0.0) >= 1
    # Callbacks in the bank's interactions, and Retain's own tasks and reported contacts
    # not yet in an extract (`days_since_last_contact`, set by batch scoring).
    days_contacted = np.fmin(days_called, rows.numeric("days_since_last_contact"))
    cooldown = days_contacted < config.contact_cooldown_days
    threshold = np.array([config.tiers[t].churn_threshold for t in tier])
    uplift = np.full(n, np.nan)
    if config.targeting == "uplift":
        uplift = predict_uplift(rows, champions.uplift)
        worth_a_call = uplift >= config.uplift_min_reduction
    elif config.targeting == "expected_value":
        worth_a_call = churn * value >= config.retention_min_expected_value
    else:
        worth_a_call = churn >= threshold
    columns["uplift"] = uplift

    applies = {
        COMPLAINT_FOLLOW_UP: (days_resolved <= config.complaint_followup_days)
        & ~called_since(days_resolved),
        RETENTION_CALLBACK: worth_a_call & (tier != "churned") & ~cooldown,
        WELCOME_CALLBACK: (days_opened <= config.welcome_days) & ~called_since(days_opened),
        WIN_BACK_CALL: (tier == "churned")
        & (days_closed <= config.winback_days)
        & (value >= config.winback_min_value)
        & ~cooldown,
        CROSS_SELL_OFFER: (best_offer_value >= config.offer_min_expected_value)
        & (tier != "churned")
        & ~cooldown,
    }
    action = np.full(n, NO_ACTION, dtype=object)
    for name in reversed(ACTIONS[:-1]):  # earlier actions overwrite later ones
        action[applies[name]] = name
    action[do_not_contact] = NO_ACTION

    columns["action"] = action
    columns["why"] = _why(
        columns, do_not_contact, cooldown, threshold, offers, days_resolved, config
    )
    columns.update(_route(tier, action, rows, config, now, days_resolved, days_opened))
    # A retention call is worth the value it keeps: the churn probability it removes
    # (uplift targeting) or, lacking an uplift model, the churn probability itself.
    # Service calls owed keep their churn-based value whatever the targeting.
    kept = np.where((action == RETENTION_CALLBACK) & np.isfinite(uplift), uplift, churn) * value
    expected_value = np.select(
        [action == WIN_BACK_CALL, action == CROSS_SELL_OFFER],
        [value, best_offer_value],
        default=kept,
    )
    expected_value[action == NO_ACTION] = np.nan
    columns["expected_value"] = expected_value
    columns["product_id"] = np.where(action == CROSS_SELL_OFFER, offers["product_id"], "")

    # Batch (`actions`) lists products only where there is an action: the lists are
    # Python objects, and a million of them cost more than the decisions.
    listed = np.flatnonzero(action != NO_ACTION) if reasons_for == "actions" else np.arange(n)
    products = _top_lists(ranking, listed, n)
    if reasons_for == "none":
        reasons: list[list[dict]] = [[] for _ in range(n)]
    else:
        chosen = np.arange(n) if reasons_for == "all" else np.flatnonzero(action != NO_ACTION)
        reasons = [[] for _ in range(n)]
        if len(chosen) and config.reasons:
            found = churn_reasons(rows.take(chosen), matrix[chosen], champions, config, now)
            for i, row_reasons in zip(chosen, found, strict=True):
                reasons[i] = row_reasons
        products = _with_product_reasons(products, rows.frame, champions, action, reasons_for, now)
    return Decisions(columns, reasons, products, champions.versions)


def _churn_part(rows: FeatureRows, tier, churn, band, value) -> dict[str, np.ndarray]:
    """The columns every decision has, whatever its scope."""
    return {
        "customer_id": rows.column("customer_id").astype(str),
        "as_of": rows.as_of(),
        "tier": tier,
        "churn_probability": churn,
        "risk_band": band,
        "customer_value": value,
    }


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
    return top_reasons(contributions, rows.dicts(), names, as_of, config.reasons)


def _products(rows: FeatureRows, champions: Champions, config: ServingConfig):
    """Eligible products per customer ranked by expected value (propensity × margin):
    never a held product, product risk within the customer's risk appetite, minimum age
    met. Returns the best offer per row and the ranking the top-k lists are read from."""
    catalogue = champions.catalogue
    features = rows.frame
    propensity = champions.xsell.predict_proba(features)
    ids = list(propensity.columns)
    scores = propensity.to_numpy(dtype="float64")
    listed = catalogue.reindex(ids)
    risk = listed["risk_level"].to_numpy(dtype="float64")
    min_age = listed.get("min_age", pd.Series(0, index=ids)).fillna(0)
    margin = listed.get("margin", pd.Series(0.0, index=ids)).fillna(0.0)
    appetite = rows.numeric("risk_appetite", 1.0)
    age = rows.numeric("age_years")
    eligible = ~np.isnan(scores)
    eligible &= risk[None, :] <= appetite[:, None]
    eligible &= ~(age[:, None] < min_age.to_numpy(dtype="float64")[None, :])
    eligible &= ~(np.isnan(age)[:, None] & (min_age.to_numpy()[None, :] > 0))
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
    return offers, (ids, names, scores, value, order)


def _top_lists(ranking, chosen: np.ndarray, n: int) -> list[list[dict]]:
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


def _with_product_reasons(products, features, champions, action, reasons_for, as_of):
    """Each listed product gets the feature that raises its propensity most for this
    customer (the product model's SHAP value); in batch only for customers with an offer."""
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
            if "product_id" in names:
                row_contributions[names.index("product_id")] = -np.inf
            j = int(np.argmax(row_contributions))
            text = phrase(names[j], views[k][names[j]], views[k], as_of)
            for item in products[i]:
                if item["product_id"] == product_id:
                    item["reason"] = text
    return products


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


def _why(columns, do_not_contact, cooldown, threshold, offers, days_resolved, config):
    """The rule that decided, in words."""
    churn, tier, action = columns["churn_probability"], columns["tier"], columns["action"]
    uplift, value = columns["uplift"], columns["customer_value"]
    texts = np.full(len(action), "nothing worth a contact", dtype=object)
    for i in range(len(action)):
        kind = action[i]
        if kind == COMPLAINT_FOLLOW_UP:
            texts[i] = f"complaint resolved {days_resolved[i]:.0f} days ago, no follow-up yet"
        elif kind == RETENTION_CALLBACK and config.targeting == "uplift":
            texts[i] = (
                f"a call is expected to lower the churn risk ({churn[i]:.0%}) by "
                f"{uplift[i]:.1%} (uplift model)"
            )
        elif kind == RETENTION_CALLBACK and config.targeting == "expected_value":
            texts[i] = (
                f"churn risk {churn[i]:.0%} × value {value[i]:,.0f} at or above "
                f"{config.retention_min_expected_value:,.0f}"
            )
        elif kind == RETENTION_CALLBACK:
            texts[i] = (
                f"churn risk {churn[i]:.0%} at or above the {threshold[i]:.0%} threshold "
                f"for {tier[i]} customers"
            )
        elif kind == WELCOME_CALLBACK:
            texts[i] = "new account opened within the welcome period"
        elif kind == WIN_BACK_CALL:
            texts[i] = "recently churned customer of value"
        elif kind == CROSS_SELL_OFFER:
            texts[i] = (
                f"{offers['product_id'].iat[i]} expected value "
                f"{offers['expected_value'].iat[i]:.0f} above the offer threshold"
            )
        elif do_not_contact[i]:
            texts[i] = "do not contact"
        elif cooldown[i]:
            texts[i] = "contact cooldown active: called recently"
    return texts


def _route(tiers, actions, rows, config, now, days_resolved, days_opened) -> dict:
    """Channel, queue, assignee, priority and due time from the tier's policy."""
    if "preferred_channel" in rows:
        preferred = rows.column("preferred_channel")
        preferred[pd.isna(preferred)] = "phone"
    else:
        preferred = np.full(len(rows), "phone", dtype=object)
    channel, queue, assignee, due, priority = [], [], [], [], []
    for i, (tier, kind) in enumerate(zip(tiers, actions, strict=True)):
        policy = config.tiers[tier]
        if kind == NO_ACTION:
            channel.append("")
            queue.append("")
            assignee.append("")
            due.append(pd.NaT)
            priority.append(0)
            continue
        if policy.assignee == "relationship_manager":
            chosen = preferred[i] if preferred[i] in ("phone", "in_person") else "phone"
            channel.append(chosen)
            queue.append("relationship_manager")
            assignee.append("relationship_manager")
        elif policy.assignee == "standard_queue":
            channel.append("phone")
            queue.append("phone")
            assignee.append("call_centre")
        else:
            channel.append(preferred[i])
            queue.append(preferred[i])
            assignee.append(
                "call_centre"
                if preferred[i] == "phone"
                else "branch"
                if preferred[i] == "in_person"
                else "digital"
            )
        limit = now + timedelta(hours=policy.due_hours)
        if kind == COMPLAINT_FOLLOW_UP:
            limit = min(
                limit, now + timedelta(days=config.complaint_followup_days - days_resolved[i])
            )
        elif kind == WELCOME_CALLBACK:
            limit = min(limit, now + timedelta(days=config.welcome_days - days_opened[i]))
        due.append(pd.Timestamp(limit))
        owed = kind in (COMPLAINT_FOLLOW_UP, WELCOME_CALLBACK)
        valuable = tier in ("core", "important")
        priority.append(
            1
            if owed or (kind == RETENTION_CALLBACK and valuable)
            else 3
            if kind == CROSS_SELL_OFFER
            else 2
        )
    return {
        "channel": np.array(channel, dtype=object),
        "queue": np.array(queue, dtype=object),
        "assignee": np.array(assignee, dtype=object),
        "due_at": pd.to_datetime(pd.Series(due, dtype="object")).to_numpy(),
        "priority": np.array(priority, dtype="int64"),
    }
