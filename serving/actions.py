"""The next best action's rules: which contact each customer is owed or worth, in words.

Each rule is a function of scores and of what the features say about recent events and
contacts, returning a mask over customers; `choose_actions` takes the first that applies
in the order of `ACTIONS`. The rules read arrays, never models: `serving.decision` scores
the models and hands the results in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.config import ServingConfig
from common.names import (  # noqa: F401  (re-exported: the decision's vocabulary)
    ACTIONS,
    CALLBACKS,
    COMPLAINT_FOLLOW_UP,
    CROSS_SELL_OFFER,
    MARKETING,
    NO_ACTION,
    OWED,
    RETENTION_CALLBACK,
    WELCOME_CALLBACK,
    WIN_BACK_CALL,
)
from serving.rows import FeatureRows


@dataclass(frozen=True)
class ContactHistory:
    """Days since the events that make a call due and the contacts that hold one back,
    one entry per customer (NaN: never)."""

    days_resolved: np.ndarray  # since a complaint was resolved
    days_called: np.ndarray  # since the last callback in the bank's interactions
    days_opened: np.ndarray  # since the first product was opened
    days_closed: np.ndarray  # since the last product was closed
    cooldown: np.ndarray  # a marketing contact is too recent
    do_not_contact: np.ndarray

    @classmethod
    def of(cls, rows: FeatureRows, config: ServingConfig) -> ContactHistory:
        """Read from the feature rows. The cooldown counts callbacks in the bank's
        interactions, and Retain's own tasks and reported contacts not yet in an extract
        (`days_since_last_contact`, set by batch scoring)."""
        days_called = rows.numeric("days_since_last_callback")
        days_contacted = np.fmin(days_called, rows.numeric("days_since_last_contact"))
        return cls(
            days_resolved=rows.numeric("days_since_complaint_resolved"),
            days_called=days_called,
            days_opened=rows.numeric("product_tenure_days"),
            days_closed=rows.numeric("days_since_last_product_closed"),
            cooldown=days_contacted < config.contact_cooldown_days,
            do_not_contact=rows.numeric("do_not_contact", 0.0) >= 1,
        )

    def take(self, rows: np.ndarray) -> ContactHistory:
        return ContactHistory(*(values[rows] for values in vars(self).values()))

    def called_since(self, days: np.ndarray) -> np.ndarray:
        """A callback at most `days` ago (False where never called)."""
        return self.days_called <= days


def complaint_follow_up(history: ContactHistory, config: ServingConfig) -> np.ndarray:
    """A complaint resolved within the follow-up period and no callback since."""
    resolved = history.days_resolved
    return (resolved <= config.complaint_followup_days) & ~history.called_since(resolved)


def welcome_call(history: ContactHistory, config: ServingConfig) -> np.ndarray:
    """A first account opened within the welcome period and no callback since."""
    opened = history.days_opened
    return (opened <= config.welcome_days) & ~history.called_since(opened)


def worth_a_retention_call(
    churn: np.ndarray,
    value: np.ndarray,
    uplift: np.ndarray,
    threshold: np.ndarray,
    config: ServingConfig,
) -> np.ndarray:
    """Who the targeting picks for a retention call: the churn probability at the tier's
    threshold (`risk`), risk × value at the floor (`expected_value`), or the uplift
    model's expected fall of the churn probability at its floor, where the value it keeps
    pays for the call (`uplift`)."""
    if config.targeting == "uplift":
        return (uplift >= config.uplift_min_reduction) & (uplift * value >= config.call_cost)
    if config.targeting == "expected_value":
        return churn * value >= config.retention_min_expected_value
    return churn >= threshold


def retention_call(
    worth_a_call: np.ndarray, tier: np.ndarray, history: ContactHistory
) -> np.ndarray:
    """Worth a call, not churned yet, and no cooldown."""
    return worth_a_call & (tier != "churned") & ~history.cooldown


def win_back_call(
    tier: np.ndarray, value: np.ndarray, history: ContactHistory, config: ServingConfig
) -> np.ndarray:
    """Churned recently, of enough value, and no cooldown."""
    return (
        (tier == "churned")
        & (history.days_closed <= config.winback_days)
        & (value >= config.winback_min_value)
        & ~history.cooldown
    )


def cross_sell_offer(
    offer_value: np.ndarray, tier: np.ndarray, history: ContactHistory, config: ServingConfig
) -> np.ndarray:
    """The best eligible product is worth an offer, not churned, and no cooldown."""
    worth_an_offer = offer_value >= config.offer_min_expected_value
    return worth_an_offer & (tier != "churned") & ~history.cooldown


def next_best_actions(
    scores: Mapping[str, np.ndarray],
    threshold: np.ndarray,
    offer_value: np.ndarray,
    history: ContactHistory,
    config: ServingConfig,
) -> np.ndarray:
    """Each customer's next best action: every rule in turn, the first that applies wins.

    Args:
        scores: the decision's columns so far (`tier`, `churn_probability`,
            `customer_value`, `uplift`).
        threshold: the tier's churn threshold per customer.
        offer_value: the best eligible product's expected value (NaN: none).
        history: events and contacts.
        config: the rules' periods, floors and targeting.

    Returns:
        One of `ACTIONS` per customer.
    """
    tier, value = scores["tier"], scores["customer_value"]
    worth_a_call = worth_a_retention_call(
        scores["churn_probability"], value, scores["uplift"], threshold, config
    )
    applies = {
        COMPLAINT_FOLLOW_UP: complaint_follow_up(history, config),
        RETENTION_CALLBACK: retention_call(worth_a_call, tier, history),
        WELCOME_CALLBACK: welcome_call(history, config),
        WIN_BACK_CALL: win_back_call(tier, value, history, config),
        CROSS_SELL_OFFER: cross_sell_offer(offer_value, tier, history, config),
    }
    return choose_actions(applies, history.do_not_contact)


def choose_actions(applies: Mapping[str, np.ndarray], do_not_contact: np.ndarray) -> np.ndarray:
    """The first action that applies per customer, in the order of `ACTIONS`; do-not-contact
    holds back every one, owed calls included."""
    action = np.full(len(do_not_contact), NO_ACTION, dtype=object)
    for name in reversed(ACTIONS[:-1]):  # earlier actions overwrite later ones
        action[applies[name]] = name
    action[do_not_contact] = NO_ACTION
    return action


def expected_values(
    action: np.ndarray, scores: Mapping[str, np.ndarray], offer_value: np.ndarray
) -> np.ndarray:
    """What each action is worth (NaN without one), from the decision's columns so far
    (`churn_probability`, `customer_value`, `uplift`) and the best offer's value."""
    churn, value, uplift = scores["churn_probability"], scores["customer_value"], scores["uplift"]
    # A retention call is worth the value it keeps: the churn probability it removes
    # (uplift targeting) or, lacking an uplift model, the churn probability itself.
    # Service calls owed keep their churn-based value whatever the targeting.
    kept = np.where((action == RETENTION_CALLBACK) & np.isfinite(uplift), uplift, churn) * value
    worth = np.select(
        [action == WIN_BACK_CALL, action == CROSS_SELL_OFFER], [value, offer_value], default=kept
    )
    worth[action == NO_ACTION] = np.nan
    return worth


def explain(
    action: np.ndarray,
    scores: Mapping[str, np.ndarray],
    threshold: np.ndarray,
    offers: pd.DataFrame,
    history: ContactHistory,
    config: ServingConfig,
) -> np.ndarray:
    """The rule that decided, in words, per customer.

    Args:
        action: the chosen action per customer.
        scores: the decision's columns so far (`churn_probability`, `uplift`,
            `customer_value`, `tier`).
        threshold: the tier's churn threshold per customer.
        offers: the best offer per customer (`product_id`, `expected_value`).
        history: events and contacts, for the complaint's age and what held a call back.
        config: the targeting and its floors.

    Returns:
        One text per customer.
    """
    churn, tier = scores["churn_probability"], scores["tier"]
    uplift, value = scores["uplift"], scores["customer_value"]
    texts = np.full(len(action), "nothing worth a contact", dtype=object)
    for i, kind in enumerate(action):
        if kind == COMPLAINT_FOLLOW_UP:
            texts[i] = (
                f"complaint resolved {history.days_resolved[i]:.0f} days ago, no follow-up yet"
            )
        elif kind == RETENTION_CALLBACK:
            texts[i] = _why_retention(churn[i], uplift[i], value[i], threshold[i], tier[i], config)
        elif kind == WELCOME_CALLBACK:
            texts[i] = "new account opened within the welcome period"
        elif kind == WIN_BACK_CALL:
            texts[i] = "recently churned customer of value"
        elif kind == CROSS_SELL_OFFER:
            texts[i] = (
                f"{_product(offers, i)}: expected value "
                f"{offers['expected_value'].iat[i]:.0f} above the offer threshold"
            )
        elif history.do_not_contact[i]:
            texts[i] = "do not contact"
        elif history.cooldown[i]:
            texts[i] = "contact cooldown active: called recently"
    return texts


def product_label(name, product_id: str) -> str:
    """A product as a caller reads it, "Mortgage (P07)"; the id alone without a name."""
    return f"{name} ({product_id})" if isinstance(name, str) and name else str(product_id)


def _product(offers: pd.DataFrame, i: int) -> str:
    name = offers["product_name"].iat[i] if "product_name" in offers else ""
    return product_label(name, offers["product_id"].iat[i])


def _why_retention(churn, uplift, value, threshold, tier, config: ServingConfig) -> str:
    """Why a retention call, in the terms of the targeting that chose it."""
    if config.targeting == "uplift":
        return (
            f"a call is expected to lower the churn risk ({churn:.0%}) by "
            f"{uplift:.1%} (uplift model), keeping {uplift * value:,.0f} of value for a "
            f"call that costs {config.call_cost:,.0f}"
        )
    if config.targeting == "expected_value":
        return (
            f"churn risk {churn:.0%} × value {value:,.0f} at or above "
            f"{config.retention_min_expected_value:,.0f}"
        )
    return f"churn risk {churn:.0%} at or above the {threshold:.0%} threshold for {tier} customers"
