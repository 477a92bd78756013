"""What the synthetic bank sells and where its customers live and spend: declarations.

Products are referred to by their index in `CATALOGUE` (`CURRENT`, `SAVINGS`, …), so the
customer-by-product arrays of the simulation line up with the catalogue; transactions
carry an index into `CATEGORIES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ProductSpec:
    """One product of the synthetic bank's catalogue."""

    product_id: str
    family: str
    risk_level: int
    name: str
    min_age: int
    margin: float


CATALOGUE: tuple[ProductSpec, ...] = (
    ProductSpec("P01", "current_account", 1, "Current account", 18, 60.0),
    ProductSpec("P02", "savings", 1, "Savings account", 18, 120.0),
    ProductSpec("P03", "time_deposit", 1, "Time deposit", 18, 200.0),
    ProductSpec("P04", "credit_card", 2, "Classic credit card", 18, 180.0),
    ProductSpec("P05", "credit_card", 2, "Gold credit card", 21, 350.0),
    ProductSpec("P06", "personal_loan", 3, "Personal loan", 18, 600.0),
    ProductSpec("P07", "mortgage", 3, "Mortgage", 21, 2500.0),
    ProductSpec("P08", "funds", 3, "Bond fund", 18, 400.0),
    ProductSpec("P09", "funds", 5, "Equity fund", 18, 500.0),
    ProductSpec("P10", "insurance", 1, "Home insurance", 18, 250.0),
    ProductSpec("P11", "insurance", 2, "Life insurance", 18, 400.0),
    ProductSpec("P12", "pension", 3, "Pension plan", 18, 900.0),
)
(
    CURRENT,
    SAVINGS,
    TIME_DEPOSIT,
    CLASSIC_CARD,
    GOLD_CARD,
    PERSONAL_LOAN,
    MORTGAGE,
    BOND_FUND,
    EQUITY_FUND,
    HOME_INSURANCE,
    LIFE_INSURANCE,
    PENSION_PLAN,
) = range(len(CATALOGUE))
N_PRODUCTS = len(CATALOGUE)
ASSET_PRODUCTS = (CURRENT, SAVINGS, TIME_DEPOSIT, BOND_FUND, EQUITY_FUND, PENSION_PLAN)
DEBT_PRODUCTS = (PERSONAL_LOAN, MORTGAGE)
SNAPSHOT_PRODUCTS = ASSET_PRODUCTS + DEBT_PRODUCTS
CARD_PRODUCTS = (CLASSIC_CARD, GOLD_CARD)
PRODUCT_RISK = np.array([spec.risk_level for spec in CATALOGUE])
PRODUCT_MIN_AGE = np.array([spec.min_age for spec in CATALOGUE])

REGIONS = (
    "Capital",
    "North",
    "North-East",
    "East",
    "South-East",
    "South",
    "South-West",
    "West",
    "North-West",
    "Central",
    "Lakes",
    "Highlands",
)
REGION_WEIGHTS = (0.2, 0.08, 0.07, 0.08, 0.09, 0.08, 0.07, 0.08, 0.06, 0.1, 0.05, 0.04)
SPENDING_CATEGORIES = (
    "groceries",
    "restaurants",
    "shopping",
    "fuel",
    "transport",
    "entertainment",
    "health",
    "travel",
)
SPENDING_WEIGHTS = (0.3, 0.15, 0.2, 0.1, 0.08, 0.07, 0.05, 0.05)
BILL_CATEGORIES = ("utilities", "telecom", "rent", "insurance_premium")
# Every category a transaction can carry; rows hold an index into this tuple.
CATEGORIES = (
    SPENDING_CATEGORIES
    + BILL_CATEGORIES
    + (
        "cash",
        "income",
        "transfer",
        "fees",
        "loan",
        "interest",
    )
)


def suitability(appetite: np.ndarray, product: np.ndarray | int) -> np.ndarray:
    """Factor on the chance of taking a product: products above the appetite are rarely sold."""
    return np.where(PRODUCT_RISK[product] > appetite, 0.05, 1.0)
