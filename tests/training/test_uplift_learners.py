"""Each uplift learner on a hand-made randomised population whose uplift is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.uplift_learners import LEARNERS, Arms, LearnerSettings

FEATURES = ["persuadable", "annoyed", "noise"]
SETTINGS = LearnerSettings(num_leaves=3, min_child_samples=200, rounds=150, learning_rate=0.05)


def population(n: int, seed: int) -> tuple[Arms, np.ndarray]:
    """Churn 15-25 % without a call; a call quarters it for persuadables, doubles it for
    annoyed customers and changes nothing for the rest; half the customers are called."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "persuadable": rng.random(n) < 0.3,
            "annoyed": rng.random(n) < 0.2,
            "noise": rng.normal(size=n),
        }
    ).astype(float)
    frame.loc[frame["persuadable"] == 1, "annoyed"] = 0.0
    not_called = 0.15 + 0.10 * (frame["noise"] > 0).to_numpy()
    factor = np.select([frame["persuadable"] == 1, frame["annoyed"] == 1], [0.25, 2.0], 1.0)
    true_uplift = not_called * (1 - factor)
    called = rng.random(n) < 0.5
    churned = rng.random(n) < np.where(called, not_called * factor, not_called)
    arms = Arms(
        frame=frame,
        called=called,
        churned=churned.astype(float),
        propensity=np.full(n, 0.5),
        start=np.log(not_called / (1 - not_called)),  # a baseline that knows churn uncalled
    )
    return arms, true_uplift


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_every_learner_finds_who_a_call_keeps_and_whom_it_annoys(name):
    arms, _ = population(12_000, seed=1)
    fresh, true_uplift = population(5_000, seed=2)
    uplift = LEARNERS[name](arms, FEATURES, SETTINGS).predict(fresh.frame, fresh.start)
    rho = pd.Series(uplift).corr(pd.Series(true_uplift), method="spearman")
    assert rho > 0.6, f"{name}: Spearman {rho:.2f} with the known uplift"
    persuadable = fresh.frame["persuadable"].to_numpy() == 1
    annoyed = fresh.frame["annoyed"].to_numpy() == 1
    assert uplift[persuadable].mean() == pytest.approx(true_uplift[persuadable].mean(), abs=0.04)
    assert uplift[annoyed].mean() < -0.05  # a call raises their churn: never call them


def test_the_shift_learner_cannot_see_an_effect_the_baseline_got_wrong_symmetric_can():
    """A baseline too low for half the customers: the called-only shift reads the error as
    a harmful call; an offset on each arm cancels it."""
    arms, true_uplift = population(20_000, seed=3)
    wrong = arms.frame["noise"].to_numpy() > 0
    biased = Arms(arms.frame, arms.called, arms.churned, arms.propensity, arms.start - wrong * 0.8)
    shift = LEARNERS["shift"](biased, FEATURES, SETTINGS).predict(biased.frame, biased.start)
    symmetric = LEARNERS["symmetric"](biased, FEATURES, SETTINGS)
    both = symmetric.predict(biased.frame, biased.start)
    plain = ~arms.frame[["persuadable", "annoyed"]].any(axis=1).to_numpy()  # no true effect
    assert shift[plain & wrong].mean() < -0.05
    assert abs(both[plain & wrong].mean()) < 0.02
