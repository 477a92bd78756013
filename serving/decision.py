"""The one decision function: scores, reasons, products and the next best action.

The API, batch scoring and notebooks all call `decide`. It works on a feature frame (one
row per customer, as `retain features build` writes it) and is vectorised, so one customer
and a million go through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from retain.config import ServingConfig
from serving.models import Champions
from serving.reasons import phrase, top_reasons

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
RISK_BANDS = ("low", "medium", "high", "very high")


@dataclass(frozen=True)
class Decisions:
    """One row per customer. `frame` columns: customer_id, as_of, tier, churn_probability,
    risk_band, customer_value, action, why, priority, expected_value, product_id,
    channel, queue, assignee, due_at; `reasons` and `products` are lists per row."""

    frame: pd.DataFrame
    reasons: list[list[dict]]
    products: list[list[dict]]
    versions: dict[str, str]

    def records(self) -> list[dict]:
        """JSON-ready, one dict per customer (the API's response items)."""
        out = []
        for i, row in enumerate(self.frame.to_dict("records")):
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
                    "due_at": row["due_at"].isoformat() if pd.notna(row["due_at"]) else None,
                    "product_id": row["product_id"] or None,
                }
            out.append(
                {
                    "customer_id": row["customer_id"],
                    "as_of": row["as_of"].isoformat(),
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


def decide(
    features: pd.DataFrame,
    champions: Champions,
    config: ServingConfig,
    now: datetime,
    reasons_for: str = "actions",
    scope: str = "all",
) -> Decisions:
    """Decide for every customer of a feature frame.

    Args:
        features: model features with `customer_id`, `as_of` and `tier`.
        champions: the models in use.
        config: thresholds, routing, cooldown.
        now: when the decision is made (due times count from here).
        reasons_for: `all` rows, only rows with an `actions` (batch: reasons cost ~ms a
            row), or `none`.
        scope: `all`, or `score` for the churn part only (probability, band, reasons):
            no products and no action are computed, and `action` is left empty.
    """
    n = len(features)
    churn = champions.churn.predict_proba(features)
    band = np.asarray(RISK_BANDS)[np.searchsorted(config.risk_band_edges, churn, side="right")]
    tier = features["tier"].astype("object").fillna("general").to_numpy()
    value = _num(features, "customer_value", 0.0)
    if scope == "score":
        return _scores_only(features, champions, config, now, reasons_for, churn, band, tier, value)

    offers, products = _products(features, champions, config)
    best_offer_value = offers["expected_value"].to_numpy()

    days_resolved = _num(features, "days_since_complaint_resolved")
    days_called = _num(features, "days_since_last_callback")
    days_opened = _num(features, "product_tenure_days")
    days_closed = _num(features, "days_since_last_product_closed")
    called_since = lambda days: days_called <= days  # noqa: E731  (NaN: never called)
    do_not_contact = _num(features, "do_not_contact", 0.0) >= 1
    cooldown = days_called < config.contact_cooldown_days
    threshold = np.array([config.tiers[t].churn_threshold for t in tier])

    applies = {
        COMPLAINT_FOLLOW_UP: (days_resolved <= config.complaint_followup_days)
        & ~called_since(days_resolved),
        RETENTION_CALLBACK: (churn >= threshold) & (tier != "churned") & ~cooldown,
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

    frame = _churn_part(features, tier, churn, band, value)
    frame["action"] = action
    frame["why"] = _why(frame, do_not_contact, cooldown, threshold, offers, days_resolved)
    _route(frame, features, config, now, days_resolved, days_opened)
    frame["expected_value"] = np.select(
        [frame["action"] == WIN_BACK_CALL, frame["action"] == CROSS_SELL_OFFER],
        [value, best_offer_value],
        default=churn * value,
    )
    frame.loc[frame["action"] == NO_ACTION, "expected_value"] = np.nan
    frame["product_id"] = np.where(action == CROSS_SELL_OFFER, offers["product_id"], "")

    if reasons_for == "none":
        reasons: list[list[dict]] = [[] for _ in range(n)]
    else:
        rows = np.arange(n) if reasons_for == "all" else np.flatnonzero(action != NO_ACTION)
        reasons = [[] for _ in range(n)]
        if len(rows) and config.reasons:
            found = churn_reasons(features.iloc[rows], champions, config.reasons, now)
            for i, row_reasons in zip(rows, found, strict=True):
                reasons[i] = row_reasons
        products = _with_product_reasons(products, features, champions, action, reasons_for, now)
    return Decisions(frame, reasons, products, champions.versions)


def _churn_part(features, tier, churn, band, value) -> pd.DataFrame:
    """The columns every decision has, whatever its scope."""
    return pd.DataFrame(
        {
            "customer_id": features["customer_id"].astype(str).to_numpy(),
            "as_of": pd.to_datetime(features["as_of"]).to_numpy(),
            "tier": tier,
            "churn_probability": churn,
            "risk_band": band,
            "customer_value": value,
        }
    )


def _scores_only(features, champions, config, now, reasons_for, churn, band, tier, value):
    """The churn part of a decision: what `/score` answers, at a fraction of the cost."""
    n = len(features)
    frame = _churn_part(features, tier, churn, band, value).assign(
        action="",
        why="",
        priority=0,
        expected_value=np.nan,
        product_id="",
        channel="",
        queue="",
        assignee="",
        due_at=pd.NaT,
    )
    reasons: list[list[dict]] = [[] for _ in range(n)]
    if reasons_for != "none" and config.reasons and n:
        reasons = churn_reasons(features, champions, config.reasons, now)
    return Decisions(frame, reasons, [[] for _ in range(n)], champions.versions)


def churn_reasons(
    features: pd.DataFrame, champions: Champions, count: int, as_of: datetime
) -> list[list[dict]]:
    """Top churn reasons per row from the churn booster's own SHAP values."""
    model = champions.churn
    contributions = model.contributions(features)
    return top_reasons(contributions, features, list(model.schema.features), as_of, count)


def _num(frame: pd.DataFrame, column: str, fill: float = np.nan) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), fill)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
    return np.where(np.isnan(values), fill, values) if not np.isnan(fill) else values


def _products(features: pd.DataFrame, champions: Champions, config: ServingConfig):
    """Eligible products per customer ranked by expected value (propensity × margin):
    never a held product, product risk within the customer's risk appetite, minimum age
    met. Returns the best offer per row and the top-k lists."""
    catalogue = champions.catalogue
    propensity = champions.xsell.predict_proba(features)
    ids = list(propensity.columns)
    scores = propensity.to_numpy(dtype="float64")
    listed = catalogue.reindex(ids)
    risk = listed["risk_level"].to_numpy(dtype="float64")
    min_age = listed.get("min_age", pd.Series(0, index=ids)).fillna(0)
    margin = listed.get("margin", pd.Series(0.0, index=ids)).fillna(0.0)
    appetite = _num(features, "risk_appetite", 1.0)
    age = _num(features, "age_years")
    eligible = ~np.isnan(scores)
    eligible &= risk[None, :] <= appetite[:, None]
    eligible &= ~(age[:, None] < min_age.to_numpy(dtype="float64")[None, :])
    eligible &= ~(np.isnan(age)[:, None] & (min_age.to_numpy()[None, :] > 0))
    value = np.where(eligible, scores * margin.to_numpy(dtype="float64")[None, :], -np.inf)
    order = np.argsort(-value, axis=1, kind="stable")[:, : config.top_k_products]
    names = listed.get("name", pd.Series(ids, index=ids)).fillna("")
    top_lists = []
    for i in range(len(features)):
        top_lists.append(
            [
                {
                    "product_id": ids[j],
                    "name": str(names.iloc[j]),
                    "propensity": round(float(scores[i, j]), 4),
                    "expected_value": round(float(value[i, j]), 2),
                }
                for j in order[i]
                if np.isfinite(value[i, j])
            ]
        )
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
    return offers, top_lists


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
        for k, i in enumerate(rows):
            row_contributions = contributions[k, : len(names)].copy()
            if "product_id" in names:
                row_contributions[names.index("product_id")] = -np.inf
            j = int(np.argmax(row_contributions))
            row = data.iloc[k]
            text = phrase(names[j], row[names[j]], row, as_of)
            for item in products[i]:
                if item["product_id"] == product_id:
                    item["reason"] = text
    return products


def _why(frame, do_not_contact, cooldown, threshold, offers, days_resolved):
    """The rule that decided, in words."""
    churn, tier, action = frame["churn_probability"], frame["tier"], frame["action"]
    texts = np.full(len(frame), "nothing worth a contact", dtype=object)
    for i in range(len(frame)):
        kind = action.iat[i]
        if kind == COMPLAINT_FOLLOW_UP:
            texts[i] = f"complaint resolved {days_resolved[i]:.0f} days ago, no follow-up yet"
        elif kind == RETENTION_CALLBACK:
            texts[i] = (
                f"churn risk {churn.iat[i]:.0%} at or above the {threshold[i]:.0%} threshold "
                f"for {tier.iat[i]} customers"
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


def _route(frame, features, config, now, days_resolved, days_opened) -> None:
    """Channel, queue, assignee, priority and due time from the tier's policy."""
    preferred = (
        features["preferred_channel"].astype("object").fillna("phone").to_numpy()
        if "preferred_channel" in features
        else np.full(len(frame), "phone", dtype=object)
    )
    channel, queue, assignee, due, priority = [], [], [], [], []
    for i, (tier, kind) in enumerate(zip(frame["tier"], frame["action"], strict=True)):
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
    frame["channel"], frame["queue"], frame["assignee"] = channel, queue, assignee
    frame["due_at"], frame["priority"] = due, priority
