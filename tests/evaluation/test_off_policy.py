"""The doubly-robust value of a targeting rule, against a simulated campaign whose uplift is
known, and the support a logged campaign gives it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.errors import DataError
from common.names import HOLDOUT, NO_ACTION, RETENTION_CALLBACK, TREATMENT
from evaluation.off_policy import (
    MIN_EFFECTIVE_CUSTOMERS,
    dr_scores,
    logged_support,
    policy_difference,
    policy_value,
    top_calls,
)

CUSTOMERS, LISTED, CALLS = 20_000, 2_000, 2_000
EXPLORED, HELD_OUT = 0.1, 0.2  # the slice's draw probability; the holdout's share


def population(rng: np.random.Generator) -> pd.DataFrame:
    """Risk rises with x; a call keeps customers with x above 0.3 and drives away the
    others (sleeping dogs), so the riskiest are not the ones to call."""
    x = rng.random(CUSTOMERS)
    churn_if_not_called = 0.05 + 0.10 * x
    true_uplift = 0.08 * (x - 0.3) * (x < 0.8)  # the riskiest leave whatever is done
    return pd.DataFrame(
        {
            "x": x,
            "mu0": churn_if_not_called,
            "mu1": churn_if_not_called - true_uplift,
            "true_uplift": true_uplift,
        }
    )


def logged_campaign(
    people: pd.DataFrame, rng: np.random.Generator, explored: float = EXPLORED
) -> pd.DataFrame:
    """Risk targeting lists the riskiest; an exploration slice draws from the others with
    probability `explored`; a holdout is drawn from both; outcomes follow the truth."""
    listed = top_calls(people["mu0"], LISTED)
    assigned = np.where(listed, 1.0, explored)
    given = listed | (rng.random(CUSTOMERS) < explored)
    called = given & (rng.random(CUSTOMERS) >= HELD_OUT)
    churn = np.where(called, people["mu1"], people["mu0"])
    return people.assign(
        called=called,
        propensity=assigned * (1 - HELD_OUT),
        churned=(rng.random(CUSTOMERS) < churn).astype(float),
    )


def test_the_interval_covers_the_truth_about_95_times_in_100_even_with_a_wrong_outcome_model():
    """With the design's probabilities the estimate is unbiased whatever μ is: here μ says
    a call changes nothing and churn is flat, and the rule valued calls the customers the
    campaign mostly did not (the best by the truth)."""
    rng = np.random.default_rng(11)
    people = population(rng)
    rule = top_calls(people["true_uplift"], CALLS)
    truth = 1000 * people.loc[rule, "true_uplift"].mean()
    covered, estimates = 0, []
    for _ in range(200):
        campaign = logged_campaign(people, rng)
        flat = np.full(CUSTOMERS, campaign["churned"].mean())
        value = policy_value("truth", dr_scores(campaign, flat, flat), rule)
        covered += value.ci_low <= truth <= value.ci_high
        estimates.append(value.retained_per_1000_calls)
    assert covered >= 182  # 95 % nominal; 182 of 200 is the lower 1 % tail
    assert np.mean(estimates) == pytest.approx(truth, abs=3 * np.std(estimates) / np.sqrt(200))


def test_a_good_outcome_model_keeps_the_interval_centred_and_no_wider():
    """With churn this rare the outcome's own noise, weighted by 1 / e, is most of the
    interval: a good μ narrows it only a little (what a bank sees too)."""
    rng = np.random.default_rng(12)
    people = population(rng)
    campaign = logged_campaign(people, rng)
    rule = top_calls(people["true_uplift"], CALLS)
    flat = np.full(CUSTOMERS, campaign["churned"].mean())
    rough = policy_value("truth", dr_scores(campaign, flat, flat), rule)
    good = policy_value("truth", dr_scores(campaign, people["mu0"], people["mu1"]), rule)
    assert good.ci_high - good.ci_low <= rough.ci_high - rough.ci_low
    truth = 1000 * people.loc[rule, "true_uplift"].mean()
    assert good.ci_low <= truth <= good.ci_high and rough.ci_low <= truth <= rough.ci_high
    assert (good.calls, good.support) == (CALLS, CUSTOMERS)


def test_the_difference_of_two_rules_is_found_where_each_alone_is_uncertain():
    """The best rule by the truth against risk targeting: on the same Γ the difference
    is the customers one calls and the other does not, and its interval excludes 0."""
    rng = np.random.default_rng(13)
    people = population(rng)
    campaign = logged_campaign(people, rng)
    gamma = dr_scores(campaign, people["mu0"], people["mu1"])
    best, risk = top_calls(people["true_uplift"], CALLS), top_calls(people["mu0"], CALLS)
    found = policy_difference(gamma, best, risk, support=campaign)
    truth = 1000 * (people.loc[best, "true_uplift"].mean() - people.loc[risk, "true_uplift"].mean())
    assert found.ci_low > 0 and found.ci_low <= truth <= found.ci_high
    assert found.effective_customers >= MIN_EFFECTIVE_CUSTOMERS
    assert found.difference == pytest.approx(
        policy_value("a", gamma, best).retained_per_1000_calls
        - policy_value("b", gamma, risk).retained_per_1000_calls
    )
    with pytest.raises(DataError, match="different numbers of calls"):
        policy_difference(gamma, best, top_calls(people["mu0"], CALLS - 1))


def test_a_customer_in_two_pooled_campaigns_counts_once_in_the_interval():
    """The same campaign twice is no more information than once: clustered by customer
    the interval stays as wide; treated as independent rows it would shrink by √2."""
    rng = np.random.default_rng(14)
    people = population(rng)
    campaign = logged_campaign(people, rng)
    gamma = dr_scores(campaign, people["mu0"], people["mu1"])
    rule = top_calls(people["true_uplift"], CALLS)
    once = policy_value("once", gamma, rule)
    twice = np.concatenate([gamma, gamma]), np.concatenate([rule, rule])
    ids = np.concatenate([people.index.to_numpy()] * 2)
    naive = policy_value("naive", *twice)
    clustered = policy_value("clustered", *twice, clusters=ids)
    width = once.ci_high - once.ci_low
    assert clustered.retained_per_1000_calls == pytest.approx(once.retained_per_1000_calls)
    assert clustered.ci_high - clustered.ci_low == pytest.approx(width, rel=0.01)
    assert naive.ci_high - naive.ci_low == pytest.approx(width / np.sqrt(2), rel=0.01)
    assert np.isnan(policy_value("nobody", gamma, np.zeros(CUSTOMERS, bool)).ci_low)


def test_a_rule_resting_on_few_randomised_calls_gets_no_interval():
    """A slice drawn at p = 0.002 leaves the truth's best rule (mostly customers the list
    did not take) about 3 randomised calls: the estimate is given, its interval is not,
    and the effective customers are those calls (equal weights: Kish's size is the count)."""
    rng = np.random.default_rng(15)
    people = population(rng)
    campaign = logged_campaign(people, rng, explored=0.002)
    rule = top_calls(people["true_uplift"], CALLS)
    gamma = dr_scores(campaign, people["mu0"], people["mu1"])
    value = policy_value("thin", gamma, rule, support=campaign)
    outside = rule & (campaign["propensity"] < 0.5).to_numpy()
    assert value.effective_customers == pytest.approx(
        (campaign["called"].to_numpy() & outside).sum(), abs=1.0
    )
    assert value.effective_customers < MIN_EFFECTIVE_CUSTOMERS
    assert np.isfinite(value.retained_per_1000_calls)
    assert np.isnan(value.ci_low) and np.isnan(value.ci_high)
    risk = top_calls(people["mu0"], CALLS)
    assert np.isnan(policy_difference(gamma, rule, risk, support=campaign).ci_low)
    # The list the campaign made rests on its calls and its holdout (the fewer arm, 20 %).
    listed = policy_value("list", gamma, risk, support=campaign)
    held_out = (~campaign["called"].to_numpy() & risk).sum()
    assert listed.effective_customers == pytest.approx(held_out, rel=0.01)
    assert held_out > 300 and np.isfinite(listed.ci_low)


def test_a_probability_of_0_or_1_is_refused():
    support = pd.DataFrame({"called": [True, False], "propensity": [1.0, 0.5], "churned": [0, 1]})
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        dr_scores(support, [0.1, 0.1], [0.1, 0.1])


def _lists() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A logged campaign in the shape `retain score` writes: the rules' retention picks
    (one over capacity, one held out below the last call made, one held out above it), an
    exploration slice and its pool, an offer and a customer that could not be called."""
    rows = [
        # customer, action, group, status, expected value, exploration, assignment probability
        ("a", RETENTION_CALLBACK, TREATMENT, "scheduled", 90.0, False, 1.0),
        ("b", RETENTION_CALLBACK, HOLDOUT, "holdout: not contacted", 80.0, False, 1.0),
        ("c", RETENTION_CALLBACK, TREATMENT, "scheduled", 70.0, False, 1.0),
        ("d", RETENTION_CALLBACK, TREATMENT, "over_capacity", 60.0, False, 1.0),
        ("e", RETENTION_CALLBACK, HOLDOUT, "holdout: not contacted", 50.0, False, 1.0),
        ("f", RETENTION_CALLBACK, TREATMENT, "scheduled", 5.0, True, 0.25),
        ("g", "cross_sell_offer", HOLDOUT, "holdout: not contacted", 40.0, False, 1.0),
        ("h", "cross_sell_offer", TREATMENT, "scheduled", 40.0, False, 1.0),
        ("i", "cross_sell_offer", TREATMENT, "scheduled", 40.0, False, 1.0),
        ("j", "cross_sell_offer", TREATMENT, "scheduled", 40.0, False, 1.0),
        ("k", RETENTION_CALLBACK, HOLDOUT, "holdout: not contacted", 95.0, False, 1.0),
    ]
    tasks = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "action",
            "group",
            "status",
            "expected_value",
            "exploration",
            "assignment_probability",
        ],
    ).assign(campaign_id="c1", queue="retention", priority=1)
    tasks.loc[tasks["customer_id"] == "k", "priority"] = 2  # after every priority-1 call
    pool = pd.DataFrame(
        {
            "customer_id": ["p", "q", "z"],
            "action": NO_ACTION,
            "group": TREATMENT,
            "exploration": False,
            "assignment_probability": [0.25, 0.25, 0.0],  # z: cooldown, never drawable
        }
    )
    scores = pd.concat(
        [tasks.drop(columns=["status", "expected_value", "queue", "priority"]), pool]
    )
    return tasks, scores.assign(uplift=0.01)


def test_the_support_is_the_customers_whose_call_was_left_to_chance():
    tasks, scores = _lists()
    outcomes = pd.DataFrame(
        {
            "customer_id": list("abcdefghijkpqz"),
            "churned": [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, np.nan, 0],
        }
    )
    support = logged_support(tasks, scores, outcomes).set_index("customer_id")
    # d over capacity, e held out below the last call and k held out at a lower priority
    # than it: none could have been called; g-j got an offer, z could not be drawn, q's
    # outcome is unknown.
    assert sorted(support.index) == ["a", "b", "c", "f", "p"]
    held_out = 4 / 11  # b, e, g, k of the eleven tasks outside the owed calls
    assert support.loc["a", "propensity"] == pytest.approx(1 - held_out)
    assert support.loc["f", "propensity"] == pytest.approx(0.25 * (1 - held_out))
    assert support.loc["p", "propensity"] == pytest.approx(0.25 * (1 - held_out))
    assert support["called"].to_dict() == {"a": True, "b": False, "c": True, "f": True, "p": False}


def test_a_campaign_without_a_holdout_or_retention_calls_is_refused():
    tasks, scores = _lists()
    outcomes = pd.DataFrame({"customer_id": list("abcdef"), "churned": 0.0})
    with pytest.raises(DataError, match="held-out share of its tasks is 0%"):
        logged_support(tasks.assign(group=TREATMENT), scores, outcomes)
    with pytest.raises(DataError, match="no retention calls"):
        logged_support(tasks[tasks["action"] != RETENTION_CALLBACK], scores, outcomes)
