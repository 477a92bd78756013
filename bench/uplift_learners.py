"""Which uplift learner ranks customers closest to the truth? → the table in docs/evaluation.md.

On the banks `bench/campaign.py` leaves in bench/out/campaign/seed-N (run it first), fits
on cycle 1's randomised list, as `retain demo campaign` does, and ranks the customers of
cycle 2's campaign day: churn risk (the champion), the classic two-model learner (one
calibrated LightGBM per group), Retain's baseline + shift model, and the truth's own
uplift. Reports the Spearman correlation with the true uplift and the customers retained
per 1,000 calls (from the truth) when calling the first 400 / 800 / 1,600.

Usage: .venv/bin/python bench/uplift_learners.py [--seeds 42 7]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CALLS = (400, 800, 1600)


def main() -> None:
    import retain.campaign_demo as demo
    from common.config import RetainConfig, with_overrides
    from common.dates import add_months
    from common.names import NOT_LISTED, TREATMENT
    from evaluation.programme import campaign_outcomes, read_truth
    from features import engine, pipeline
    from features.definitions import LABEL_CHURN, feature_names
    from features.validation import load_bank
    from training.uplift import train_from_campaign

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    args = parser.parse_args()
    for seed in args.seeds:
        out = ROOT / "bench" / "out" / "campaign" / f"seed-{seed}"
        config = demo.campaign_config(with_overrides(RetainConfig(), "synth", seed=seed), out)
        bank = load_bank(engine.connect(config.features), config.data_dir, config.data)
        tasks = pd.read_parquet(out / "cycle-1" / "tasks.parquet")
        first_day = pd.Timestamp(tasks["assigned_at"].iat[0]).date()
        second_day = add_months(first_day, demo.CYCLE_GAP_MONTHS)
        campaign = campaign_outcomes(bank, first_day, config).merge(
            tasks[["customer_id", "group"]], on="customer_id", how="left"
        )
        campaign["group"] = campaign["group"].fillna(NOT_LISTED)
        campaign = campaign[campaign[LABEL_CHURN].notna()].reset_index(drop=True)
        later = pipeline.feature_frame(bank, [second_day], config.features)
        later = later.merge(read_truth(config.data_dir, second_day), on="customer_id")
        later = later[later["tier"] != "churned"].reset_index(drop=True)
        true_uplift = (later["p_churn_90d"] - later["p_churn_90d_if_called"]).to_numpy()

        features = feature_names(config.features)
        shift = train_from_campaign(bank, config, out / "cycle-1", register=False)
        baseline = shift.model.baseline
        treated = (campaign["group"] == TREATMENT).to_numpy()
        treated_model, control_model = (
            one_group(campaign[mask], features, config) for mask in (treated, ~treated)
        )
        rankings = {
            "churn risk": baseline.predict_proba(later),
            "classic two-model LightGBM": control_model.predict_proba(later)
            - treated_model.predict_proba(later),
            "baseline + shift (Retain)": shift.model.predict_uplift(later),
            "the truth's own uplift": true_uplift,
        }
        print(f"seed {seed}: cycle 1 on {first_day}, ranked on {second_day}")
        for name, score in rankings.items():
            rho = pd.Series(score).corr(pd.Series(true_uplift), method="spearman")
            order = np.argsort(-score, kind="stable")
            kept = " / ".join(f"{1000 * true_uplift[order[:k]].mean():.1f}" for k in CALLS)
            print(f"  {name:28s} Spearman {rho:5.2f}   retained per 1,000 calls {kept}")


def one_group(rows: pd.DataFrame, features: list[str], config):
    """A calibrated churn model on one group; a random fifth stops the trees."""
    from features.definitions import LABEL_CHURN
    from training.binary import fit_lightgbm

    stop = np.random.default_rng(42).random(len(rows)) < 0.2
    model, _ = fit_lightgbm(rows[~stop], rows[stop], LABEL_CHURN, features, config.training)
    return model


if __name__ == "__main__":
    main()
