"""Whom to call, judged on banks nobody tuned on → the campaign section of docs/quality.md.

For each seed, `retain demo campaign --cycles N` (cycle 1 a test-and-learn list with half
held out; every later cycle targeted by the uplift champion, with the normal holdout,
exploration slice and capacity, the model retrained on all past cycles and promoted on the
logged campaigns' doubly-robust estimate). Then, per targeted cycle, from the truth: the
customers kept per 1,000 calls when the first 400, 800 and 1,600 callable customers are
called by churn risk, by the uplift model that scored the cycle, by the feature-limited
optimum (`_uplift_oracle`: the best ranking Retain's features allow) and by the truth
itself. And what a bank would see without the truth: cycle 1's effect with its interval,
and each cycle's doubly-robust estimate of the uplift rule's value, against the truth's.

Seeds are drawn at random per run and printed (never 42 or 7, the seeds settings were
chosen on) unless given. Every seed's rows and the goals, met or not, go into the section.

Usage: .venv/bin/python bench/campaign.py [--random-seeds 10 | --seeds 42 7]
           [--customers 20000] [--cycles 6] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after ROOT: bench/training.py is not the package
DOC = ROOT / "docs" / "quality.md"
OUT = ROOT / "bench" / "out" / "campaign"
SECTION_PREFIX = "<!-- campaign"  # one section per number of cycles, at the doc's end
TUNING_SEEDS = (42, 7)
CALLS = (400, 800, 1600)
RULES = {
    "risk": "churn_probability",
    "uplift": "uplift",
    "feature_limited": "feature_limited",
    "truth": "true_uplift",
}
JUDGED = "bench.json"  # each seed's figures, beside its demo run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", help="default: drawn at random")
    parser.add_argument("--random-seeds", type=int, default=10, help="how many to draw")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--cycles", type=int, default=6)
    parser.add_argument("--reuse", action="store_true", help="keep seeds judged already")
    parser.add_argument(
        "--relog",
        action="store_true",
        help="with --reuse: the logged estimates recomputed with today's estimator from the "
        "campaigns on disk (the cycles are not run again)",
    )
    args = parser.parse_args()
    seeds = args.seeds or draw_seeds(args.random_seeds)
    print("seeds:", " ".join(map(str, seeds)), flush=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    judged = {seed: judge_seed(seed, args, commit) for seed in seeds}
    command = f"python bench/campaign.py --seeds {' '.join(map(str, seeds))}"
    command += f" --customers {args.customers} --cycles {args.cycles}"
    section = render(judged, args.customers, command)
    DOC.write_text(with_section(DOC.read_text() if DOC.exists() else "", section, args.cycles))
    print(f"wrote the campaign section of {DOC.relative_to(ROOT)}")


def judge_seed(seed: int, args: argparse.Namespace, commit: str) -> dict:
    """One seed's figures: run and judged now (with the commit), or kept from an earlier
    run (`--reuse`), its logged estimates recomputed with `--relog`."""
    folder = OUT / f"seed-{seed}"
    if args.reuse and (folder / JUDGED).exists():
        one = json.loads((folder / JUDGED).read_text())
        if not args.relog:
            return one
        one = relog_seed(one, folder) | {"relogged_at": commit}
    else:
        one = run_seed(seed, folder, args.customers, args.cycles) | {"commit": commit}
    (folder / JUDGED).write_text(json.dumps(one, indent=1) + "\n")
    return one


def draw_seeds(count: int) -> list[int]:
    pool = random.SystemRandom()
    seeds: list[int] = []
    while len(seeds) < count:
        seed = pool.randrange(1, 100_000)
        if seed not in TUNING_SEEDS and seed not in seeds:
            seeds.append(seed)
    return seeds


def run_seed(seed: int, folder: Path, customers: int, cycles: int) -> dict:
    """One bank: the demo's cycles, then each targeted cycle judged on the truth."""
    from common.config import RetainConfig, with_overrides
    from retain.campaign_demo import campaign_config, run_campaign_demo

    started = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)  # this script's own output
    config = with_overrides(RetainConfig(), "synth", seed=seed)
    effect = run_campaign_demo(config, folder, customers=customers, cycles=cycles)
    from features import engine
    from features.validation import load_bank

    config = campaign_config(config, folder.resolve())
    bank = load_bank(engine.connect(config.features), config.data_dir, config.data, folder / "q")
    judged = {
        "seed": seed,
        "cycle_1": {key: effect["cycle_1"].get(key) for key in ITT_KEYS},
        "cycles": [
            judge_cycle(config, bank, folder, row, effect, seed) for row in effect["cycles"]
        ],
    }
    judged["seconds"] = round(time.perf_counter() - started, 1)
    return judged


def relog_seed(one: dict, folder: Path) -> dict:
    """One judged seed with every targeted cycle's logged estimate computed again from its
    folder: the model that scored the cycle (its version in the tasks), the calls that
    reached customers, the bank as the demo left it."""
    import mlflow

    from common.config import RetainConfig, with_overrides
    from common.names import UPLIFT_MODEL
    from evaluation.programme import read_truth
    from features import engine
    from features.validation import load_bank
    from retain.campaign_demo import campaign_config
    from retain.campaign_figures import logged_check
    from simulation.call_centre import reached_customers
    from training import tracking

    config = campaign_config(
        with_overrides(RetainConfig(), "synth", seed=one["seed"]), folder.resolve()
    )
    tracking.use_tracking(config.training.tracking_uri, config.training.experiment)
    bank = load_bank(engine.connect(config.features), config.data_dir, config.data, folder / "q")
    contacts = pd.read_parquet(folder / "outputs" / "outcomes" / "campaign_contacts.parquet")
    for cycle in one["cycles"]:
        name = f"cycle-{cycle['cycle']}"
        tasks = pd.read_parquet(folder / name / "tasks.parquet")
        version = json.loads(tasks["versions"].iat[0])[UPLIFT_MODEL]
        uri = f"models:/{UPLIFT_MODEL}/{version}"
        model = mlflow.pyfunc.load_model(uri).unwrap_python_model().model
        day = pd.Timestamp(tasks["assigned_at"].iat[0]).date()
        reached = reached_customers(contacts[contacts["campaign_id"] == name])
        row = logged_check(
            bank, config, folder / name, model, read_truth(config.data_dir, day), reached
        )
        cycle["logged"] = {k: v for k, v in row.items() if k.startswith(LOGGED_PREFIXES)}
    return one


LOGGED_PREFIXES = ("dr_", "true_itt_", "logged_")
ITT_KEYS = ("itt_churn_effect", "itt_ci_low", "itt_ci_high", "true_itt_churn_effect")


def judge_cycle(config, bank, folder: Path, row: dict, effect: dict, seed: int) -> dict:
    """Customers kept per 1,000 calls by each ranking at each number of calls (from the
    truth), with the cycle's logged estimate and its ITT effect as the run reported them."""
    from _uplift_oracle import feature_limited_uplift

    from evaluation.programme import campaign_outcomes, read_truth
    from features.definitions import feature_names

    cycle = row["cycle"]
    lists = folder / f"cycle-{cycle}"
    scores = pd.read_parquet(lists / "scores.parquet")
    as_of = pd.Timestamp(pd.read_parquet(lists / "tasks.parquet")["assigned_at"].iat[0]).date()
    features = campaign_outcomes(bank, as_of, config)
    candidates = scores[scores["tier"] != "churned"].merge(
        read_truth(config.data_dir, as_of), on="customer_id"
    )
    candidates = candidates.merge(
        features.drop(columns=[c for c in scores.columns if c != "customer_id"], errors="ignore"),
        on="customer_id",
    )
    truth = (candidates["p_churn_90d"] - candidates["p_churn_90d_if_called"]).to_numpy()
    candidates["true_uplift"] = truth
    candidates["feature_limited"] = feature_limited_uplift(
        candidates, truth, feature_names(config.features), seed
    )
    kept = {}
    for rule, column in RULES.items():
        order = np.argsort(-candidates[column].to_numpy(), kind="stable")
        for calls in CALLS:
            kept[f"{rule}_{calls}"] = 1000 * float(truth[order[:calls]].mean())
    headline = effect.get(f"cycle_{cycle}", {})
    logged = {k: v for k, v in row.items() if k.startswith(LOGGED_PREFIXES)}
    return {
        "cycle": cycle,
        "calls_made": row["calls"],
        "kept": kept,
        "logged": logged,
        "itt": {key: headline.get(key) for key in ITT_KEYS},
        "cumulative_list": row["cumulative_retained_the_list"],
        "cumulative_risk": row["cumulative_retained_risk"],
    }


def section_markers(cycles: int) -> tuple[str, str]:
    return (
        f"{SECTION_PREFIX} {cycles} cycles:begin (bench/campaign.py writes this section) -->",
        f"{SECTION_PREFIX} {cycles} cycles:end -->",
    )


def with_section(text: str, section: str, cycles: int) -> str:
    """The doc with the section of this many cycles replaced, or appended at the end."""
    begin, end = section_markers(cycles)
    if begin in text and end in text:
        head, tail = text[: text.index(begin)], text[text.index(end) + len(end) :]
        return head + section.strip() + tail
    return text.rstrip() + "\n\n" + section


def bootstrap_mean(values, draws: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """Mean over seeds and its 95 % percentile bootstrap interval (seeds resampled)."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(draws, len(values)), replace=True).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(values.mean()), float(low), float(high)


def covers(low, value, high) -> bool:
    return low is not None and high is not None and value is not None and low <= value <= high


def render(judged: dict[int, dict], customers: int, command: str) -> str:
    from _campaign_render import render_section

    return render_section(judged, customers, command)


if __name__ == "__main__":
    main()
