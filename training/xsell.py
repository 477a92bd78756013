"""Train, evaluate and register the cross-sell model: which product to offer whom."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from common.config import RetainConfig, TrainingConfig
from common.names import TRUTH_ADOPTION, TRUTH_ADOPTION_PREFIX, XSELL_MODEL
from evaluation.metrics import ranking_metrics
from features.definitions import LABEL_XSELL_PREFIX, held_column, xsell_feature_names
from features.pipeline import catalogue
from features.validation import BankData
from training import report, tracking
from training.binary import FitReport, fit_lightgbm, fit_logistic_baseline, logistic_scores
from training.contenders import LIGHTGBM, LOGISTIC, ORACLE, POPULARITY
from training.dataset import (
    SnapshotPlan,
    build_snapshot_frame,
    build_training_frame,
    check_history,
    first_record,
    plan_snapshots,
    shift_plan,
    snapshot_cache,
)
from training.model import PRODUCT_COLUMN, CrossSellModel
from training.model_logging import register_cross_sell_model
from training.model_run import RunRecord, log_and_register
from training.xsell_evaluation import ServedOffer, cross_sell_metrics, tier_table

PAIR_LABEL = "label"
# A product needs this many adopters in training (and one in validation) for a model of
# its own; with fewer, its propensities would be noise dressed up as a ranking.
MIN_ADOPTERS = 10


def label_column(product_id: str) -> str:
    return f"{LABEL_XSELL_PREFIX}{product_id}"


@dataclass
class XsellResult:
    """What a cross-sell training run produced."""

    metrics: dict[str, float]
    plan: SnapshotPlan
    run_id: str
    version: str
    aliases: list[str]
    strategy: str
    per_product: pd.DataFrame
    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def catalogue_records(bank: BankData) -> tuple[dict, ...]:
    """The product catalogue as plain records (no customer data) to ship with the model."""
    products = bank.tables["products"].to_pyarrow().to_pylist()
    return tuple(sorted(products, key=lambda record: record["product_id"]))


def xsell_rows(frame: pd.DataFrame, product_ids: list[str]) -> pd.DataFrame:
    """Customer-snapshots where at least one product is on offer and the horizon observed."""
    labels = frame[[label_column(pid) for pid in product_ids]]
    return frame[labels.notna().any(axis=1)]


def label_matrix(frame: pd.DataFrame, product_ids) -> np.ndarray:
    """1 opened, 0 not, NaN not on offer (held at the snapshot)."""
    return frame[[label_column(pid) for pid in product_ids]].to_numpy(dtype="float64")


def stack_pairs(frame: pd.DataFrame, products: list[str], features: list[str]) -> pd.DataFrame:
    """One row per (customer-snapshot, product not held): the pooled model's training rows."""
    parts = []
    for pid in products:
        eligible = frame[frame[label_column(pid)].notna()]
        part = eligible[features].copy()
        part[PRODUCT_COLUMN] = pid
        part[PAIR_LABEL] = eligible[label_column(pid)].to_numpy()
        parts.append(part)
    pairs = pd.concat(parts, ignore_index=True)
    pairs[PRODUCT_COLUMN] = pd.Categorical(pairs[PRODUCT_COLUMN], categories=products)
    return pairs


def trainable_products(
    train: pd.DataFrame, valid: pd.DataFrame, product_ids: list[str]
) -> tuple[list[str], dict[str, str]]:
    """Products with enough adopters to learn from; the others with the reason."""
    kept, skipped = [], {}
    for pid in product_ids:
        adopters = int(train[label_column(pid)].sum())
        offered = int(train[label_column(pid)].notna().sum())
        if offered == 0:
            skipped[pid] = "held by every customer: never on offer"
        elif adopters < MIN_ADOPTERS:
            skipped[pid] = f"{adopters} adopters in training (< {MIN_ADOPTERS})"
        elif valid[label_column(pid)].nunique() < 2:
            skipped[pid] = "no adopter (or no non-adopter) in the validation snapshot"
        else:
            kept.append(pid)
    return kept, skipped


def fit_cross_sell(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    products: list[str],
    features: list[str],
    config: TrainingConfig,
    strategy: str,
) -> tuple[CrossSellModel, FitReport]:
    """One pooled LightGBM over (customer, product) pairs, or one per product; each with
    early stopping and calibration on the validation period."""
    held = {pid: held_column(pid) for pid in products}
    if strategy == "single":
        model, fit = fit_lightgbm(
            stack_pairs(train, products, features),
            stack_pairs(valid, products, features),
            PAIR_LABEL,
            [*features, PRODUCT_COLUMN],
            config,
        )
        return CrossSellModel(tuple(products), pooled=model, held_columns=held), fit
    models, trees, calibrations = {}, 0, Counter()
    for pid in products:
        label = label_column(pid)
        model, fit = fit_lightgbm(
            train[train[label].notna()], valid[valid[label].notna()], label, features, config
        )
        models[pid], trees = model, trees + fit.best_iteration
        calibrations[fit.calibration] += 1
    used = ", ".join(f"{method} {count}" for method, count in sorted(calibrations.items()))
    report_ = FitReport(trees, float("nan"), len(train), len(valid), calibration=used)
    return CrossSellModel(tuple(products), per_product=models, held_columns=held), report_


@dataclass(frozen=True)
class PopularityBaseline:
    """Offer what is most often opened: each product's adoption rate among non-holders in
    training, the same ranking for everyone."""

    rates: dict[str, float]

    @classmethod
    def fit(cls, train: pd.DataFrame, products: list[str]) -> PopularityBaseline:
        return cls({pid: float(train[label_column(pid)].mean()) for pid in products})

    def predict_proba(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {pid: np.full(len(frame), rate) for pid, rate in self.rates.items()}, index=frame.index
        )


def logistic_per_product(
    train: pd.DataFrame, test: pd.DataFrame, products: list[str], features: list[str], seed: int
) -> pd.DataFrame:
    """Baseline propensities: one logistic regression per product on its non-holders."""
    columns = {}
    for pid in products:
        rows = train[train[label_column(pid)].notna()]
        model = fit_logistic_baseline(rows, label_column(pid), features, seed)
        columns[pid] = logistic_scores(model, test, features)
    return pd.DataFrame(columns, index=test.index)


def oracle_matrix(data_dir: Path, test: pd.DataFrame, products: list[str]) -> np.ndarray | None:
    """The synthetic generator's own adoption probabilities for the test rows, if any."""
    path = data_dir / TRUTH_ADOPTION
    if not path.exists():
        return None
    truth = pd.read_parquet(path)
    truth["as_of"] = pd.to_datetime(truth["month_start"])
    columns = [f"{TRUTH_ADOPTION_PREFIX}{pid}" for pid in products]
    if any(column not in truth for column in columns):
        return None
    merged = test[["customer_id", "as_of"]].merge(
        truth[["customer_id", "as_of", *columns]], on=["customer_id", "as_of"], how="left"
    )
    # The generator leaves held products blank; on offer here means not held at D.
    return merged[columns].fillna(0.0).to_numpy(dtype="float64")


def train_xsell(
    bank: BankData, data_dir: Path, config: RetainConfig, strategy: str | None = None
) -> XsellResult:
    """Build snapshots, fit the cross-sell model and baselines, evaluate the test period,
    log and register `retain-xsell` (challenger; champion too if the name is new)."""
    strategy = strategy or config.training.xsell_model
    product_ids = catalogue(bank)
    plan = plan_snapshots(bank.extracted_at, config.features, config.training)
    check_history(plan, first_record(bank))
    frame = xsell_rows(
        build_training_frame(bank, plan, config.features, snapshot_cache(config)), product_ids
    )
    features = xsell_feature_names(config.features, product_ids)
    train, valid, test = (frame[frame["split"] == name] for name in ("train", "valid", "test"))
    products, skipped = trainable_products(train, valid, product_ids)
    model, fit = fit_cross_sell(train, valid, products, features, config.training, strategy)
    model.catalogue = catalogue_records(bank)

    labels = label_matrix(test, products)
    scores = {
        LIGHTGBM.title: model.predict_proba(test).to_numpy(),
        LOGISTIC.title: logistic_per_product(
            train, test, products, features, config.training.seed
        ).to_numpy(),
        POPULARITY.title: PopularityBaseline.fit(train, products).predict_proba(test).to_numpy(),
    }
    oracle = oracle_matrix(data_dir, test, products)
    if oracle is not None:
        scores[ORACLE.title] = oracle
    served = ServedOffer.for_rows(test, model.catalogue, products)
    metrics, per_product = cross_sell_metrics(labels, scores, products, served)
    metrics |= {
        "products_modelled": float(len(products)),
        "best_iteration": float(fit.best_iteration),
        "label_rate_train": float(np.nanmean(label_matrix(train, products))),
        "label_rate_test": float(np.nanmean(labels)),
    }
    rows = {"train": len(train), "valid": len(valid), "test": len(test)}
    record = RunRecord(
        run_name="xsell",
        model_name=XSELL_MODEL,
        params=tracking.flatten(config.model_dump(mode="json"))
        | tracking.snapshot_params(data_dir, plan, rows)
        | {
            "model.strategy": strategy,
            "model.products": ",".join(products),
            "model.skipped": "; ".join(f"{k}: {v}" for k, v in skipped.items())[:6000],
        },
        metrics=metrics,
        fit=fit,
        figures=_figures(labels, scores, per_product, model, test, config.training.seed),
        tables={
            "per_product.csv": per_product,
            "evaluation_by_tier.csv": tier_table(test, labels, scores),
        },
    )
    registration = log_and_register(
        record, config.training, partial(register_cross_sell_model, model, test, XSELL_MODEL)
    )
    return XsellResult(
        metrics,
        plan,
        registration.run_id,
        registration.version,
        registration.aliases,
        strategy,
        per_product,
        rows,
        skipped,
    )


def _figures(labels, scores, per_product, model: CrossSellModel, test, seed):
    offered = ~np.isnan(labels)
    y = labels[offered]
    figures = report.curve_figures(y, {k: np.nan_to_num(v[offered]) for k, v in scores.items()})
    figures |= {"per_product_roc_auc": report.per_product_figure(per_product)}
    sample = test.sample(min(len(test), 2000), random_state=seed)
    if model.pooled is not None:
        pairs = pd.concat(
            [sample.assign(**{PRODUCT_COLUMN: pid}) for pid in model.products], ignore_index=True
        ).sample(min(len(sample) * len(model.products), 4000), random_state=seed)
        figures |= report.importance_figures(model.pooled, pairs)
    else:
        biggest = per_product.sort_values("adopters").iloc[-1]["product_id"]
        figures |= report.importance_figures(model.per_product[biggest], sample)
    return figures


def backtest_xsell(
    bank: BankData,
    data_dir: Path,
    config: RetainConfig,
    origins: int,
    strategies: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Train and test at `origins` rolling monthly origins ending at the latest one (purge
    gaps as in a normal run); one row per origin and strategy with the test MAP@7 of the
    model, the logistic and popularity baselines, and the oracle when there is one."""
    strategies = strategies or (config.training.xsell_model,)
    product_ids = catalogue(bank)
    latest = plan_snapshots(bank.extracted_at, config.features, config.training)
    plans = [shift_plan(latest, k) for k in reversed(range(origins))]
    check_history(plans[0], first_record(bank))
    dates = sorted({day for plan in plans for day in plan.all_dates})
    frame = xsell_rows(
        build_snapshot_frame(bank, dates, config.features, snapshot_cache(config)), product_ids
    )
    features = xsell_feature_names(config.features, product_ids)
    day = frame["as_of"].dt.date
    rows = []
    for plan in plans:
        train, valid = frame[day.isin(plan.train)], frame[day == plan.valid]
        test = frame[day == plan.test]
        products, _ = trainable_products(train, valid, product_ids)
        labels = label_matrix(test, products)
        baselines = {
            LOGISTIC: logistic_per_product(
                train, test, products, features, config.training.seed
            ).to_numpy(),
            POPULARITY: PopularityBaseline.fit(train, products).predict_proba(test).to_numpy(),
        }
        oracle = oracle_matrix(data_dir, test, products)
        if oracle is not None:
            baselines[ORACLE] = oracle
        reference = {
            contender: ranking_metrics(labels, matrix)["map_at_7"]
            for contender, matrix in baselines.items()
        }
        for strategy in strategies:
            model, fit = fit_cross_sell(train, valid, products, features, config.training, strategy)
            metrics = ranking_metrics(labels, model.predict_proba(test).to_numpy())
            rows.append(
                {
                    "origin": str(plan.test),
                    "strategy": strategy,
                    "buyers": int(metrics["customers_ranked"]),
                    "map_at_7": metrics["map_at_7"],
                    **{
                        contender.key("map_at_7"): reference.get(contender, float("nan"))
                        for contender in (LOGISTIC, POPULARITY, ORACLE)
                    },
                    "trees": fit.best_iteration,
                }
            )
    return pd.DataFrame(rows)
