"""The cross-sell model end to end on a small synthetic bank: ranking, registry, rules."""

from __future__ import annotations

from datetime import date

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from common.config import load_config, with_overrides
from common.names import XSELL_MODEL
from features import engine
from features.definitions import held_column
from features.pipeline import catalogue
from features.validation import load_bank
from training.dataset import build_training_frame
from training.model import CrossSellModel
from training.xsell import (
    fit_cross_sell,
    label_column,
    stack_pairs,
    train_xsell,
    trainable_products,
    xsell_rows,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from simulation.bank import generate_bank

    root = tmp_path_factory.mktemp("xsell")
    data = root / "bank"
    generate_bank(data, n_customers=4000, months=24, seed=5, start=date(2023, 1, 1))
    config = load_config()
    config = with_overrides(config, "training", tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    config = config.model_copy(update={"output_dir": root / "outputs"})
    bank = load_bank(engine.connect(config.features), data, config.data)
    single = train_xsell(bank, data, config, "single")
    per_product = train_xsell(bank, data, config, "per_product")
    products = catalogue(bank)
    frame = xsell_rows(build_training_frame(bank, single.plan, config.features), products)
    return {
        "config": config,
        "bank": bank,
        "single": single,
        "per_product": per_product,
        "frame": frame,
        "products": products,
    }


def test_ranking_metrics_beat_popularity_and_stay_below_the_oracle(trained):
    for result in (trained["single"], trained["per_product"]):
        metrics = result.metrics
        for key in (
            "map_at_7",
            "precision_at_3",
            "recall_at_3",
            "served_precision_at_1",
            "served_margin_precision_at_1",
        ):
            assert {key, f"baseline_logreg_{key}", f"baseline_rule_{key}", f"oracle_{key}"} <= set(
                metrics
            )
        assert 0 < metrics["map_at_7"] <= metrics["oracle_map_at_7"] + 0.05
        # Pairs on offer: the model separates adopters far better than product popularity.
        assert metrics["pooled_roc_auc"] > metrics["baseline_rule_pooled_roc_auc"] + 0.05
        assert metrics["pooled_roc_auc"] > 0.7
        assert {f"roc_auc__{pid}" for pid in result.per_product["product_id"]} <= set(metrics)


def test_product_everyone_holds_is_not_modelled(trained):
    # P01 (current account) is held by every synthetic customer: nothing to learn or offer.
    assert "P01" in trained["single"].skipped
    assert "P01" not in set(trained["single"].per_product["product_id"])


def test_registered_model_returns_a_propensity_per_product_and_never_a_held_one(trained):
    client = MlflowClient()
    champion = client.get_model_version_by_alias(XSELL_MODEL, "champion").version
    assert str(champion) == trained["single"].version == "1"
    model = mlflow.pyfunc.load_model(f"models:/{XSELL_MODEL}@champion")
    test = trained["frame"][trained["frame"]["split"] == "test"]
    scores = model.predict(test)
    assert isinstance(scores, pd.DataFrame) and len(scores) == len(test)
    modelled = list(scores.columns)
    assert "P01" not in modelled and len(modelled) >= 8
    for pid in modelled:
        held = test[held_column(pid)].to_numpy() > 0
        assert held.any(), f"no customer holds {pid}: the check below would be empty"
        assert scores[pid][held].isna().all(), f"{pid} is ranked for customers holding it"
        offered = scores[pid].to_numpy()[~held]
        assert ((offered >= 0) & (offered <= 1)).all()


def test_both_strategies_mask_held_products_the_same_way(trained):
    train = trained["frame"][trained["frame"]["split"] == "train"]
    valid = trained["frame"][trained["frame"]["split"] == "valid"]
    config = trained["config"].training
    products, _ = trainable_products(train, valid, trained["products"])
    features = [c for c in train.columns if c.startswith("held__")] + ["age_years", "tier"]
    customers = valid.head(50).copy()
    customers[held_column(products[0])] = 1.0  # everyone now holds the first product
    for strategy in ("single", "per_product"):
        model, _ = fit_cross_sell(train, valid, products[:3], features, config, strategy)
        scores = model.predict_proba(customers)
        assert scores[products[0]].isna().all()
        assert scores[products[1]].notna().sum() == (customers[held_column(products[1])] == 0).sum()


def test_saved_model_reloads_with_identical_scores(trained, tmp_path):
    frame = trained["frame"]
    train, valid = frame[frame["split"] == "train"], frame[frame["split"] == "valid"]
    products, _ = trainable_products(train, valid, trained["products"])
    features = ["age_years", "tenure_days", "tier", *[held_column(p) for p in products]]
    for strategy in ("single", "per_product"):
        model, _ = fit_cross_sell(
            train, valid, products[:4], features, trained["config"].training, strategy
        )
        again = CrossSellModel.load(model.save(tmp_path / strategy))
        assert again.strategy == strategy
        pd.testing.assert_frame_equal(model.predict_proba(valid), again.predict_proba(valid))


def test_pairs_hold_only_products_on_offer(trained):
    frame = trained["frame"].head(300)
    pairs = stack_pairs(frame, ["P02", "P04"], ["age_years", held_column("P02")])
    expected = sum(frame[label_column(pid)].notna().sum() for pid in ("P02", "P04"))
    assert len(pairs) == expected
    p02 = pairs[pairs["product_id"] == "P02"]
    assert (p02[held_column("P02")] == 0).all()


def test_promotion_compares_map_at_7_on_the_latest_snapshot(trained):
    from training.promotion import promote

    decision = promote(XSELL_MODEL, trained["bank"], trained["config"], "test bank")
    assert decision.metric == "map_at_7"
    # Version 1 (single) is champion, version 2 (per product) the challenger.
    assert (decision.champion_version, decision.challenger_version) == ("1", "2")
    assert decision.champion_score == pytest.approx(trained["single"].metrics["map_at_7"])
    assert decision.challenger_score == pytest.approx(trained["per_product"].metrics["map_at_7"])


def test_customer_id_does_not_change_a_score(trained):
    model = mlflow.pyfunc.load_model(f"models:/{XSELL_MODEL}@champion")
    test = trained["frame"][trained["frame"]["split"] == "test"].head(200)
    renamed = test.assign(customer_id=[f"X{i}" for i in range(len(test))])
    pd.testing.assert_frame_equal(model.predict(test), model.predict(renamed))
