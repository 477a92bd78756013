"""Shared by bench/serving.py and bench/batch.py: a demo-size synthetic bank, its champion
models in a benchmark MLflow registry, and the online store, prepared once under
bench/out/serving/."""

from __future__ import annotations

import os
import sys
from datetime import date

from _timing import ROOT

sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out" / "serving"
KEY = "bench-key"


def prepare() -> dict[str, str]:
    """Bank, champions and online store under OUT; the environment that points at them."""
    env = {
        "RETAIN_TRAINING__TRACKING_URI": f"sqlite:///{OUT / 'mlflow.db'}",
        "RETAIN_OUTPUT_DIR": str(OUT / "outputs"),
        "RETAIN_DATA_DIR": str(OUT / "bank"),
        "RETAIN_API_KEYS": KEY,
        "RETAIN_SERVING__RELOAD_CHECK_SECONDS": "0",
        "MLFLOW_LOGGING_LEVEL": "WARNING",
    }
    os.environ.update(env)
    from common.config import load_config
    from features import engine
    from features.validation import load_bank
    from serving.batch import score_campaign
    from serving.models import load_champions
    from simulation.bank import generate_bank

    config = load_config()
    if not (OUT / "bank" / "manifest.json").exists():
        generate_bank(OUT / "bank", n_customers=5000, months=24, seed=42, start=date(2023, 1, 1))
    bank = load_bank(engine.connect(config.features), OUT / "bank", config.data)
    try:
        champions = load_champions(config)
    except Exception:
        from training.churn import train_churn
        from training.xsell import train_xsell

        train_churn(bank, OUT / "bank", config)
        train_xsell(bank, OUT / "bank", config)
        champions = load_champions(config)
    day = (bank.extracted_at.date()).replace(day=1)
    score_campaign(bank, champions, config, day, OUT / "campaign")
    return env
