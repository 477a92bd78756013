"""Champions trained once on a small synthetic bank, shared by the serving tests."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from common.config import load_config, with_overrides
from features import engine, pipeline
from features.validation import load_bank
from serving.models import load_champions

NOW = datetime(2025, 1, 1)


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    from simulation.bank import generate_bank
    from training.churn import train_churn
    from training.xsell import train_xsell

    root = tmp_path_factory.mktemp("serving")
    data = root / "bank"
    generate_bank(data, n_customers=3000, months=24, seed=21, start=date(2023, 1, 1))
    config = with_overrides(
        load_config(), "training", tracking_uri=f"sqlite:///{root / 'mlflow.db'}"
    ).model_copy(update={"output_dir": root / "outputs", "data_dir": data})
    bank = load_bank(engine.connect(config.features), data, config.data)
    train_churn(bank, data, config)
    train_xsell(bank, data, config)
    champions = load_champions(config)
    features = pipeline.feature_frame(bank, [NOW.date()], config.features)
    return {
        "config": config,
        "bank": bank,
        "champions": champions,
        "features": features,
        "root": root,
        "data": data,
    }
