"""Campaigns that learn: the exploration slice and its assignment probabilities."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from common.names import CALLBACKS_PARQUET, NO_ACTION, RETENTION_CALLBACK, WELCOME_CALLBACK
from serving.batch import score_campaign
from serving.campaign_lists import schedule
from serving.exploration import Exploration

NOW = datetime(2025, 1, 1)  # the `served` fixture's scoring day


def decisions(policy: int, idle: int, blocked: int = 0, owed: int = 0):
    """Actions, queues, would-be queues of a retention call, ids and contactability of a
    made-up list (one queue)."""
    action = np.array(
        [RETENTION_CALLBACK] * policy + [NO_ACTION] * (idle + blocked) + [WELCOME_CALLBACK] * owed,
        dtype=object,
    )
    queue = np.where(action == NO_ACTION, "", "phone").astype(object)
    ids = np.array([f"C{i:05d}" for i in range(len(action))], dtype=object)
    contactable = np.ones(len(action), dtype=bool)
    contactable[policy + idle : policy + idle + blocked] = False
    return action, queue, np.full(len(action), "phone", dtype=object), ids, contactable


def test_the_slice_is_its_share_of_the_calls_when_capacity_does_not_bind():
    action, queue, candidate, ids, contactable = decisions(
        policy=850, idle=5_000, blocked=300, owed=20
    )
    explored, probability = Exploration(0.15, "c1").draw(
        action, queue, candidate, ids, contactable, {"phone": 100_000}
    )
    assert explored.sum() == 150  # 150 / (850 + 150) = 15 %
    pool = (action == NO_ACTION) & contactable
    assert not explored[~pool].any()  # never a policy pick, an owed call or a blocked one
    np.testing.assert_allclose(probability[pool], 150 / 5_000)
    assert (probability[action != NO_ACTION] == 1.0).all()
    assert (probability[(action == NO_ACTION) & ~contactable] == 0.0).all()


def test_the_slice_is_its_share_of_capacity_when_capacity_binds():
    action, queue, candidate, ids, contactable = decisions(policy=3_000, idle=5_000, owed=100)
    explored, _ = Exploration(0.15, "c1").draw(
        action, queue, candidate, ids, contactable, {"phone": 1_100}
    )
    assert explored.sum() == 150  # of the 1,000 calls the owed ones leave


def test_each_queue_gets_its_share_of_its_own_capacity():
    """A relationship manager's small queue is not flooded by customers drawn for the
    phone queue's capacity: each queue draws from the customers it would call."""
    action, queue, candidate, ids, contactable = decisions(policy=3_000, idle=6_000)
    queue[:1_000] = "manager"  # 1,000 of the rules' picks and 3,000 of the pool go there
    candidate[:1_000] = "manager"
    candidate[3_000:6_000] = "manager"
    capacity = {"phone": 2_000, "manager": 100}
    explored, probability = Exploration(0.15, "c1").draw(
        action, queue, candidate, ids, contactable, capacity
    )
    in_manager = explored & (candidate == "manager")
    assert in_manager.sum() == 15 and (explored & (candidate == "phone")).sum() == 300
    np.testing.assert_allclose(probability[3_000:6_000], 15 / 3_000)
    np.testing.assert_allclose(probability[6_000:], 300 / 3_000)


def test_the_draw_is_stable_per_campaign_and_fresh_for_the_next():
    action, queue, candidate, ids, contactable = decisions(policy=850, idle=5_000)
    capacity = {"phone": 100_000}
    lists = (action, queue, candidate, ids, contactable, capacity)
    first, _ = Exploration(0.15, "c1").draw(*lists)
    again, _ = Exploration(0.15, "c1").draw(*lists)
    other, _ = Exploration(0.15, "c2").draw(*lists)
    np.testing.assert_array_equal(first, again)
    assert (first & other).sum() < 20  # about 150 × 3 % by chance


def test_explored_calls_take_their_capacity_before_the_best_targeted_ones():
    tasks = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(10)],
            "queue": "phone",
            "priority": 2,
            "expected_value": [100.0 - i for i in range(10)],
            "exploration": [False] * 8 + [True] * 2,
            "due_at": pd.Timestamp("2025-01-10"),
        }
    )
    made = schedule(tasks, {"phone": 5}, 1, date(2025, 1, 1))
    scheduled = set(made.loc[made["status"] == "scheduled", "customer_id"])
    assert scheduled == {"C8", "C9", "C0", "C1", "C2"}


def test_owed_calls_go_before_the_slice_and_every_targeted_call():
    tasks = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(6)],
            "action": [RETENTION_CALLBACK] * 4 + [WELCOME_CALLBACK] * 2,
            "queue": "phone",
            "priority": [1, 1, 1, 1, 2, 2],  # a lower priority does not push them out
            "expected_value": [100.0, 90.0, 80.0, 70.0, 0.0, 0.0],
            "exploration": [False, False, True, True, False, False],
            "due_at": pd.Timestamp("2025-01-10"),
        }
    )
    made = schedule(tasks, {"phone": 3}, 1, date(2025, 1, 1))
    scheduled = set(made.loc[made["status"] == "scheduled", "customer_id"])
    assert scheduled == {"C4", "C5", "C2"}


def test_campaign_lists_record_the_slice_and_every_probability(served, tmp_path):
    config = served["config"].model_copy(
        update={
            "output_dir": tmp_path / "outputs",
            "serving": served["config"].serving.model_copy(update={"exploration_share": 0.2}),
        }
    )
    result = score_campaign(
        served["bank"], served["champions"], config, NOW.date(), tmp_path / "c", "explore-1"
    )
    tasks = pd.read_parquet(result.files["tasks.parquet"])
    scores = pd.read_parquet(result.files["scores.parquet"])
    explored = tasks[tasks["exploration"]]
    assert len(explored) > 0
    assert (explored["action"] == RETENTION_CALLBACK).all()
    assert set(explored["group"]) <= {"treatment", "holdout"}  # the holdout applies to it
    assert (tasks.loc[~tasks["exploration"], "assignment_probability"] == 1.0).all()
    drawn = explored.groupby("queue")["assignment_probability"].unique()
    assert (drawn.map(len) == 1).all()  # one probability per queue's pool
    assert all(0 < values[0] < 1 for values in drawn)
    could_have_been = scores[
        (scores["action"] == NO_ACTION) & (scores["assignment_probability"] > 0)
    ]
    # Each queue draws count = probability × its pool, the drawn and the not drawn.
    pool = could_have_been["assignment_probability"].sum()
    assert len(explored) == pytest.approx(pool + explored["assignment_probability"].sum())
    callbacks = pd.read_parquet(result.files[CALLBACKS_PARQUET])
    assert callbacks.loc[callbacks["exploration"], "why"].str.startswith("exploration:").all()
    assert result.summary["exploration"]["tasks"] == len(explored)
    by_queue = result.summary["exploration"]["assignment_probability"]
    assert by_queue == pytest.approx({queue: values[0] for queue, values in drawn.items()})
