"""Campaigns that learn: a randomised exploration slice of the retention calls.

A list targeted by a model only ever calls the customers that model already likes, so the
next model can learn nothing about the others. Each campaign therefore gives a share of its
retention capacity (`serving.exploration_share`), queue by queue, to customers drawn at
random from those the rules would not have contacted but could (not churned, no cooldown,
not do-not-contact, no other action) and whose call would go to that queue. The draw is a
stable hash of (campaign, customer), like the holdout, and every customer's probability of
being given the task is recorded (`assignment_probability`): 1 for the rules' own picks,
their queue's draw probability for the slice and for every customer it could have drawn,
0 for the others. With it a doubly-robust estimate can
value any other targeting rule from the logged campaigns.

Only campaign lists explore; a real-time decision never does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from common.names import NO_ACTION, OWED, RETENTION_CALLBACK


@dataclass(frozen=True)
class Exploration:
    """The slice's share of retention calls and what seeds its draw."""

    share: float
    drawn_per: str  # the campaign id
    holdout_share: float = 0.0  # listed but never called: takes no capacity

    def draw(
        self,
        action: np.ndarray,
        queue: np.ndarray,
        candidate_queue: np.ndarray,
        customer_ids: np.ndarray,
        contactable: np.ndarray,
        capacity: dict[str, int],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Who the slice calls, and every customer's assignment probability.

        Args:
            action: the rules' action per customer.
            queue: the queue each action goes to ("" without one).
            candidate_queue: the queue a retention call to each customer would go to.
            customer_ids: names the draw.
            contactable: could be given a marketing call.
            capacity: calls each queue can make over the campaign.

        Returns:
            The explored customers (a mask) and the probability of each customer's task.
        """
        explored = np.zeros(len(action), dtype=bool)
        probability = np.where(action == NO_ACTION, 0.0, 1.0)
        if self.holdout_share >= 1:  # everyone held out: nobody is called, nothing to learn
            return explored, probability
        policy = action == RETENTION_CALLBACK
        pool = contactable & (action == NO_ACTION)
        owed = np.isin(action, OWED)  # go first in every queue
        # Per queue, the slice's share of the retention calls that will be made there: of
        # the room owed calls leave when capacity binds, of the rules' list and the slice
        # together when it does not. The holdout is drawn from the slice too, and its
        # customers take no capacity. Each queue's pool has its own probability.
        for name in sorted(set(candidate_queue[pool])):
            in_pool = pool & (candidate_queue == name)
            room = max(0.0, capacity.get(name, np.inf) - int((owed & (queue == name)).sum()))
            wanted = int((policy & (queue == name)).sum())
            listed = min(room / (1 - self.holdout_share), wanted / (1 - self.share))
            count = min(int(round(self.share * listed)), int(in_pool.sum()))
            if count == 0:
                continue
            candidates = np.flatnonzero(in_pool)
            draws = np.array([_draw(self.drawn_per, c) for c in customer_ids[candidates]])
            explored[candidates[np.argsort(draws, kind="stable")[:count]]] = True
            probability[in_pool] = count / len(candidates)
        return explored, probability


def _draw(drawn_per: str, customer_id: str) -> float:
    digest = hashlib.sha256(f"explore:{drawn_per}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
