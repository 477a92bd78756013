"""Drift between training and test: market-wide series are told apart from customers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.model_run import customer_drift, largest_shifts
from training.report import market_wide_features, population_stability


def period(dates: list[str], rate: list[float], seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Customers on each date: a market rate shared by all of them, and a balance each."""
    rng = np.random.default_rng(seed)
    frames = [
        pd.DataFrame(
            {
                "as_of": pd.Timestamp(day),
                "market_rate": value,
                "balance": rng.normal(shift, 1.0, 500),
            }
        )
        for day, value in zip(dates, rate, strict=True)
    ]
    return pd.concat(frames, ignore_index=True)


def test_a_rate_shared_by_every_customer_on_a_day_is_market_wide():
    train = period(["2024-01-01", "2024-02-01"], [1.0, 1.5], seed=0)
    assert market_wide_features(train, ["market_rate", "balance"]) == ["market_rate"]
    # One date only: nothing tells a market series from a constant column.
    assert market_wide_features(train[train["as_of"] == "2024-01-01"], ["market_rate"]) == []
    assert market_wide_features(train.drop(columns="as_of"), ["market_rate"]) == []


def test_the_market_moving_raises_no_drift_but_customers_moving_does():
    train = period(["2024-01-01", "2024-02-01"], [1.0, 1.5], seed=0)
    calm = period(["2024-06-01"], [4.0], seed=1)
    drift = population_stability(train, calm, ["market_rate", "balance"])
    market = drift.set_index("feature").loc["market_rate"]
    assert market["market_wide"] and market["psi"] > 1  # reported, flagged
    assert customer_drift(drift)["psi"].max() < 0.1
    assert "market_rate" not in largest_shifts(drift)

    moved = period(["2024-06-01"], [4.0], seed=1, shift=2.0)
    drift = population_stability(train, moved, ["market_rate", "balance"])
    assert customer_drift(drift)["psi"].max() > 1
    assert largest_shifts(drift).startswith("balance")
