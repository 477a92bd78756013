"""Hand-made bank extracts for tests: small enough to check every value by hand.

A plain module (not conftest.py) so test files import it by one unambiguous name.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pandas as pd

EXTRACTED_AT = datetime(2024, 12, 31, 23, 59, 59)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def tiny_bank_frames() -> dict[str, pd.DataFrame]:
    """Four customers whose stories the label and feature tests check by hand.

    C1: steady salaried customer, holds current account + credit card, buys a mortgage in
        2024-03 (cross-sell label for P03 as of 2024-02-01 within 90 days).
    C2: salary stops after 2023-12, complains 2024-01-10 (unresolved), closes everything on
        2024-03-15 (churns inside a 90-day horizon from 2024-02-01, outside from 2023-10-01).
    C3: joined 2024-06-01 (not a customer as of 2024-02-01).
    C4: closed everything 2023-06-30: churned tier as of 2024-02-01 (within the lookback).
    """
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "birth_date": [
                date(1980, 5, 1),
                date(1990, 1, 15),
                date(2000, 2, 29),
                date(1950, 7, 7),
            ],
            "joined_at": [date(2010, 1, 1), date(2015, 6, 1), date(2024, 6, 1), date(2001, 1, 1)],
            "gender": ["F", "M", "X", "F"],
            "region": ["North", "South", "North", "East"],
            "income_band": ["middle", "low", "high", "upper_middle"],
            "risk_appetite": [3, 2, 5, 1],
            "preferred_channel": ["phone", "app", "email", "in_person"],
            "do_not_contact": [False, False, False, True],
            "segment": ["mass", "mass", "affluent", "affluent"],
        }
    )
    products = pd.DataFrame(
        {
            "product_id": ["P01", "P02", "P03", "P04"],
            "family": ["current_account", "credit_card", "mortgage", "savings"],
            "risk_level": [1, 2, 3, 1],
            "name": ["Current", "Card", "Mortgage", "Savings"],
            "min_age": [18, 18, 21, 18],
            "margin": [50.0, 150.0, 2500.0, 80.0],
        }
    )
    holdings = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C1", "C2", "C2", "C3", "C4"],
            "product_id": ["P01", "P02", "P03", "P01", "P04", "P01", "P01"],
            "opened_at": [
                ts("2010-01-01"),
                ts("2018-05-05"),
                ts("2024-03-10"),
                ts("2015-06-01"),
                ts("2016-01-01"),
                ts("2024-06-01"),
                ts("2001-01-01"),
            ],
            "closed_at": [
                None,
                None,
                None,
                ts("2024-03-15"),
                ts("2024-03-01"),
                None,
                ts("2023-06-30"),
            ],
            "account_id": ["A1", "A2", "A3", "A4", "A5", "A6", "A7"],
            "balance_or_limit": [1000.0, 5000.0, 200000.0, 0.0, 0.0, 10.0, 0.0],
        }
    )
    tx_rows = []
    for month in pd.date_range("2023-01-25", "2024-11-25", freq="MS") + pd.Timedelta(days=24):
        tx_rows.append(("C1", month, 3000.0, "credit", "system", "salary", "salary"))
        tx_rows.append(
            ("C1", month + pd.Timedelta(days=2), 80.0, "debit", "pos", "groceries", "merchant")
        )
        if month < ts("2024-01-01"):
            tx_rows.append(("C2", month, 1800.0, "credit", "system", "salary", "salary"))
        if month < ts("2024-03-01"):
            tx_rows.append(
                (
                    "C2",
                    month + pd.Timedelta(days=1),
                    900.0,
                    "debit",
                    "online",
                    "transfer",
                    "transfer_out_other_bank",
                )
            )
    tx_rows.append(("C4", ts("2023-05-02 10:00"), 50.0, "debit", "atm", "cash", "cash"))
    transactions = pd.DataFrame(
        tx_rows,
        columns=[
            "customer_id",
            "ts",
            "amount",
            "direction",
            "channel",
            "category",
            "counterparty_type",
        ],
    )
    transactions["account_id"] = "A"
    interactions = pd.DataFrame(
        {
            "customer_id": ["C2", "C1", "C1", "C1"],
            "ts": [
                ts("2024-01-10 09:00"),
                ts("2023-11-01 10:00"),
                ts("2024-01-20 08:00"),
                ts("2024-01-25 12:00"),
            ],
            "kind": ["complaint", "complaint", "digital_login", "callback"],
            "severity": [3, 1, None, None],
            # C1's complaint resolved in 2 hours; C2's never.
            "resolved_at": [None, ts("2023-11-01 12:00"), None, None],
            "satisfaction": [None, None, None, 4],
            "outcome": [None, "resolved", None, "reached"],
            "channel": ["phone", "phone", "app", "phone"],
        }
    )
    interactions["severity"] = interactions["severity"].astype("Int64")
    interactions["satisfaction"] = interactions["satisfaction"].astype("Int64")
    balances = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C2", "C2"],
            "product_id": ["P01", "P01", "P01", "P01"],
            "snapshot_date": [
                date(2023, 12, 31),
                date(2024, 1, 31),
                date(2023, 12, 31),
                date(2024, 1, 31),
            ],
            "balance": [25000.0, 26000.0, 3000.0, 500.0],
        }
    )
    return {
        "customers": customers,
        "products": products,
        "holdings": holdings,
        "transactions": transactions,
        "interactions": interactions,
        "balances": balances,
    }


def tiny_bank_with_history() -> dict[str, pd.DataFrame]:
    """The tiny bank with the optional point-in-time tables and fixed-rate periods.

    customer_attributes: C1 moved from income band lower_middle (risk 2, email) to middle
        (risk 3, phone) on 2023-09-15; C2 asked not to be contacted on 2024-01-12, two days
        after the complaint; C3 has one version from joining; C4 has none (falls back to
        `customers`). `customers` holds the last version, as a bank's extract would.
    market_rates: published on the 1st of each month at 09:00, 2023-01 to 2024-12; the market
        rate rises 0.1 a month from 3.0, the bank's stays at 2.5.
    holdings.fixed_until: C1's current account until 2024-02-10, C1's mortgage until
        2029-03-10 (after the extraction: agreed at opening), C2's savings until 2023-12-01.
    """
    frames = tiny_bank_frames()
    versions = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C2", "C2", "C3"],
            "valid_from": [
                ts("2010-01-01"),
                ts("2023-09-15 10:30"),
                ts("2015-06-01"),
                ts("2024-01-12 16:00"),
                ts("2024-06-01"),
            ],
            "valid_to": [ts("2023-09-15 10:30"), None, ts("2024-01-12 16:00"), None, None],
            "segment": ["mass", "mass", "mass", "mass", "affluent"],
            "income_band": ["lower_middle", "middle", "low", "low", "high"],
            "risk_appetite": [2, 3, 2, 2, 5],
            "preferred_channel": ["email", "phone", "app", "app", "email"],
            "do_not_contact": [False, False, False, True, False],
            "region": ["North", "North", "South", "South", "North"],
        }
    )
    customers = frames["customers"].set_index("customer_id")
    current = versions[versions["valid_to"].isna()].set_index("customer_id")
    customers.update(current.drop(columns=["valid_from", "valid_to"]))
    frames["customers"] = customers.reset_index().astype({"risk_appetite": "int64"})
    frames["customer_attributes"] = versions
    months = pd.date_range("2023-01-01", periods=24, freq="MS") + pd.Timedelta(hours=9)
    frames["market_rates"] = pd.DataFrame(
        {
            "published_at": months,
            "market_savings_rate": [round(3.0 + 0.1 * k, 2) for k in range(24)],
            "bank_savings_rate": 2.5,
        }
    )
    fixed = {("C1", "P01"): date(2024, 2, 10), ("C1", "P03"): date(2029, 3, 10)}
    fixed[("C2", "P04")] = date(2023, 12, 1)
    holdings = frames["holdings"]
    holdings["fixed_until"] = [
        fixed.get((row.customer_id, row.product_id)) for row in holdings.itertuples()
    ]
    return frames


def write_bank(frames: dict[str, pd.DataFrame], folder: Path, fmt: str = "parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "manifest.json").write_text(json.dumps({"extracted_at": EXTRACTED_AT.isoformat()}))
    return folder


def steady_customers(features, rows: int = 50):
    """Active customers with nothing owed: no recent complaint, callback or new product."""
    keep = (
        (features["tier"].astype(str) != "churned")
        & ~(features["days_since_complaint_resolved"] <= 7)
        & (features["do_not_contact"] == 0)
        & ~(features["days_since_last_callback"] < 30)
        & ~(features["product_tenure_days"] <= 7)
    )
    return features[keep].head(rows).reset_index(drop=True)


def serving_config(served, **changes):
    """The `served` fixture's serving settings with some keys changed."""
    return served["config"].serving.model_copy(update=changes)
