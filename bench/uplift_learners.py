"""Which uplift learner ranks customers closest to the truth? → the table in docs/evaluation.md.

On the banks `bench/campaign.py` leaves in bench/out/campaign/seed-N (run it first), every
learner is fitted on the same rows (the 70 % of cycle 1's randomised list that
`training.uplift` fits on, by the same hash) with the same LightGBM settings (each of
`SETTINGS`), and ranks the customers of cycle 2's campaign day. Learners: Retain's
(`training.uplift_learners`: shift, symmetric offsets, X-, R- and DR-learner, all starting
from the churn champion's levelled log-odds and using the design's known assignment
probability) and causalml's meta-learners (T, X, R, DR) with LightGBM learners of the same
settings, which do not know the baseline. References: churn risk (the champion), the
baseline's slope σ′ (the ranking a near-constant shift gives) and the truth's own uplift.

Figures, from the truth: Spearman correlation with the true uplift on cycle 2's day, and
customers retained per 1,000 calls when calling the first 400 / 800 / 1,600 (1,000 × the
mean true uplift of those called). Choices are made on seeds 42 and 7 only.

Usage: uv run --group bench python bench/uplift_learners.py [--seeds 42 7]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CALLS = (400, 800, 1600)


def settings_grid():
    from training.uplift_learners import LearnerSettings

    return {
        "small (3 leaves, ≥500, 100 × 0.03)": LearnerSettings(),
        "medium (7 leaves, ≥200, 200 × 0.03)": LearnerSettings(7, 200, 0.03, 200, 10.0),
        "large (15 leaves, ≥100, 300 × 0.05)": LearnerSettings(15, 100, 0.05, 300, 1.0),
    }


@dataclass
class SeedData:
    arms: object  # training.uplift_learners.Arms
    features: list[str]
    later: pd.DataFrame  # cycle 2's customers with their features
    later_start: np.ndarray  # the levelled baseline's log-odds on them
    true_uplift: np.ndarray
    churn_risk: np.ndarray


def load_seed(seed: int) -> SeedData:
    """Cycle 1's listed arms (the fit part) and cycle 2's customers with the truth."""
    import retain.campaign_demo as demo
    from common.config import RetainConfig, with_overrides
    from common.dates import add_months
    from common.names import HOLDOUT, TREATMENT
    from evaluation.programme import read_truth
    from features import engine, pipeline
    from features.definitions import LABEL_CHURN, feature_names
    from features.validation import load_bank
    from training.model import log_odds
    from training.uplift import _campaign_rows, _level, validation_part
    from training.uplift_learners import Arms

    out = ROOT / "bench" / "out" / "campaign" / f"seed-{seed}"
    config = demo.campaign_config(with_overrides(RetainConfig(), "synth", seed=seed), out)
    bank = load_bank(engine.connect(config.features), config.data_dir, config.data)
    # The rows and the churn model `retain train uplift` itself fits on.
    first_day, campaign, baseline = _campaign_rows(bank, config, out / "cycle-1")
    campaign = campaign[campaign[LABEL_CHURN].notna()].reset_index(drop=True)
    listed = campaign["group"].isin([TREATMENT, HOLDOUT]).to_numpy()
    fit = campaign[listed & ~validation_part(campaign["customer_id"])].reset_index(drop=True)
    level = _level(baseline, fit[fit["group"] == HOLDOUT])
    called = (fit["group"] == TREATMENT).to_numpy()
    arms = Arms(
        frame=fit,
        called=called,
        churned=fit[LABEL_CHURN].to_numpy(dtype=float),
        propensity=np.full(len(fit), 1 - demo.test_and_learn(config).serving.holdout_share),
        start=log_odds(baseline.predict_proba(fit)) + level,
    )
    second_day = add_months(first_day, demo.CYCLE_GAP_MONTHS)
    later = pipeline.feature_frame(bank, [second_day], config.features)
    later = later.merge(read_truth(config.data_dir, second_day), on="customer_id")
    later = later[later["tier"] != "churned"].reset_index(drop=True)
    risk = baseline.predict_proba(later)
    return SeedData(
        arms=arms,
        features=feature_names(config.features),
        later=later,
        later_start=log_odds(risk) + level,
        true_uplift=(later["p_churn_90d"] - later["p_churn_90d_if_called"]).to_numpy(),
        churn_risk=risk,
    )


def causalml_uplift(name: str, data: SeedData, settings) -> np.ndarray:
    """causalml's meta-learner `name` with LightGBM learners of `settings`; uplift = the
    negated effect on churn."""
    from causalml.inference.meta import (
        BaseDRLearner,
        BaseRClassifier,
        BaseTClassifier,
        BaseXClassifier,
    )
    from lightgbm import LGBMClassifier, LGBMRegressor

    from training.model import ModelSchema

    def lgbm(kind):
        params = settings.params("binary" if kind is LGBMClassifier else "regression")
        params.pop("objective")
        return kind(n_estimators=settings.rounds, subsample_freq=1, **params)

    arms = data.arms
    schema = ModelSchema.from_training(arms.frame, data.features)
    x, x_later = schema.matrix(arms.frame), schema.matrix(data.later)
    treatment = arms.called.astype(int)
    learner = {
        "T": lambda: BaseTClassifier(learner=lgbm(LGBMClassifier)),
        "X": lambda: BaseXClassifier(lgbm(LGBMClassifier), lgbm(LGBMRegressor)),
        "R": lambda: BaseRClassifier(lgbm(LGBMClassifier), lgbm(LGBMRegressor), random_state=0),
        "DR": lambda: BaseDRLearner(learner=lgbm(LGBMRegressor)),
    }[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        learner.fit(x, treatment, arms.churned, p=arms.propensity)
        options = {"p": np.full(len(x_later), arms.propensity[0])} if name == "X" else {}
        effect = np.asarray(learner.predict(x_later, **options)).ravel()
    return -effect


def figures(score: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    order = np.argsort(-score, kind="stable")
    row = {"spearman": float(pd.Series(score).corr(pd.Series(truth), method="spearman"))}
    for calls in CALLS:
        row[f"kept_{calls}"] = 1000 * float(truth[order[:calls]].mean())
    return row


def with_response_features(data: SeedData) -> SeedData:
    """The trial of response features computed from the model features (pandas), added to
    both the fit rows and the ranked customers."""

    def add(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        age = frame["age_years"]
        frame["young_digital_only"] = (frame["digital_share_90d"] >= 0.9) & (age < 35)
        frame["salary_here_money_leaving"] = frame["salary_present"].fillna(0) * (
            frame["transfer_out_other_bank_sum_90d"].fillna(0)
            / (frame["credit_sum_90d"].fillna(0).abs() + 1)
        )
        frame["grievance_recent"] = frame["complaint_max_severity_365d"].fillna(0) * np.exp(
            -frame["days_since_last_complaint"].fillna(1e4) / 60
        )
        frame["activity_vs_own_year"] = frame["txn_count_30d"] / (frame["txn_count_365d"] / 12 + 1)
        frame["new_customer"] = frame["tenure_days"] < 365
        for column in RESPONSE_FEATURES:
            frame[column] = frame[column].astype(float)
        return frame

    from dataclasses import replace

    arms = data.arms
    arms = type(arms)(add(arms.frame), arms.called, arms.churned, arms.propensity, arms.start)
    return replace(
        data, arms=arms, later=add(data.later), features=data.features + list(RESPONSE_FEATURES)
    )


RESPONSE_FEATURES = (
    "young_digital_only",
    "salary_here_money_leaving",
    "grievance_recent",
    "activity_vs_own_year",
    "new_customer",
)


def rankings(data: SeedData, only: list[str] | None = None) -> dict[tuple[str, str], np.ndarray]:
    """Every learner × setting's uplift on cycle 2's customers, and the references."""
    from training.uplift_learners import LEARNERS

    slope = data.churn_risk * (1 - data.churn_risk)
    scores = {
        ("churn risk (champion)", "—"): data.churn_risk,
        ("baseline slope σ′ (constant shift)", "—"): slope,
        ("the truth's own uplift", "—"): data.true_uplift,
    }
    for label, settings in settings_grid().items():
        for name, fit in LEARNERS.items():
            if only and name not in only:
                continue
            model = fit(data.arms, data.features, settings)
            scores[(f"Retain {name}", label)] = model.predict(data.later, data.later_start)
        for name in ("T", "X", "R", "DR") if not only else ():
            scores[(f"causalml {name}", label)] = causalml_uplift(name, data, settings)
    return scores


def markdown(wide: pd.DataFrame, seeds: list[int]) -> str:
    """The table docs/evaluation.md shows: one row per learner and setting, best first."""
    head = ["learner", "settings"]
    head += [f"retained / 1,000 calls, seed {s}" for s in seeds]
    head += [f"Spearman, seed {s}" for s in seeds] + ["retained / 1,000, mean"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, row in wide.iterrows():
        cells = [row["learner"], row["settings"]]
        cells += [f"{row[f'kept_mean {s}']:.1f}" for s in seeds]
        cells += [f"{row[f'spearman {s}']:.2f}" for s in seeds]
        cells.append(f"**{row['kept_mean over seeds']:.1f}**")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    parser.add_argument("--learners", nargs="+", help="only these of Retain's learners")
    parser.add_argument(
        "--response-features", action="store_true", help="add the trial response features"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    for seed in args.seeds:
        data = load_seed(seed)
        if args.response_features:
            data = with_response_features(data)
        print(
            f"seed {seed}: {len(data.arms.called):,} listed customers fitted on, "
            f"{int(data.arms.churned.sum())} churners; {len(data.later):,} ranked"
        )
        for (learner, settings), score in rankings(data, args.learners).items():
            rows.append(
                {
                    "seed": seed,
                    "learner": learner,
                    "settings": settings,
                    **figures(score, data.true_uplift),
                }
            )
    table = pd.DataFrame(rows)
    table["kept_mean"] = table[[f"kept_{c}" for c in CALLS]].mean(axis=1)
    wide = table.pivot_table(
        index=["learner", "settings"], columns="seed", values=["spearman", "kept_mean"]
    )
    wide.columns = [f"{value} {seed}" for value, seed in wide.columns]
    wide["kept_mean over seeds"] = table.groupby(["learner", "settings"])["kept_mean"].mean()
    wide = wide.sort_values("kept_mean over seeds", ascending=False)
    print(markdown(wide.reset_index(), args.seeds))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
