"""How often the doubly-robust interval covers the truth, by the effective customers it
rests on: the evidence for `evaluation.off_policy.MIN_EFFECTIVE_CUSTOMERS`.

The simulated campaign of `tests/evaluation/test_off_policy.py` (20,000 customers, risk
targeting lists 2,000, a holdout of 20 %, an exploration slice drawn with probability p
from the others; uplift known), valued with a flat, wrong outcome model for the truth's
best 400 or 2,000 calls, mostly customers the list did not take. Per p and number of
calls, 300 campaigns; coverage of the nominal 95 % interval per band of Kish's
effective size. A simulation, not a bank: no bank seed is used.

Usage: .venv/bin/python bench/off_policy_coverage.py [--draws 300]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests" / "evaluation"))

BANDS = ((0, 10), (10, 20), (20, 30), (30, 50), (50, 100), (100, np.inf))


def main() -> None:
    from test_off_policy import logged_campaign, population

    from evaluation.off_policy import dr_scores, policy_value, top_calls

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(5)
    print("| slice p | calls | effective customers | campaigns | interval covers |")
    print("|---|---|---|---|---|")
    for explored in (0.1, 0.03, 0.01, 0.005):
        for calls in (400, 2000):
            sizes, covered = [], []
            for _ in range(args.draws):
                people = population(rng)
                campaign = logged_campaign(people, rng, explored=explored)
                rule = top_calls(people["true_uplift"], calls)
                flat = np.full(len(campaign), campaign["churned"].mean())
                value = policy_value("x", dr_scores(campaign, flat, flat), rule, support=campaign)
                truth = 1000 * people.loc[rule, "true_uplift"].mean()
                # The interval the estimator would give without its minimum.
                unguarded = policy_value("x", dr_scores(campaign, flat, flat), rule)
                sizes.append(value.effective_customers)
                covered.append(unguarded.ci_low <= truth <= unguarded.ci_high)
            sizes, covered = np.array(sizes), np.array(covered)
            for low, high in BANDS:
                band = (sizes >= low) & (sizes < high)
                if band.sum() >= 20:
                    print(
                        f"| {explored:g} | {calls:,} | {low}–{high:g} | {band.sum()} "
                        f"| {covered[band].mean():.0%} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
