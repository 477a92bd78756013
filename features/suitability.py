"""The suitability rule: which products a customer may be offered at all.

Serving applies it to every offer (`serving.offers`); training reads it to judge the
ranking serving would make (the served precision of the cross-sell model). It lives here,
below both, because neither may import the other.
"""

from __future__ import annotations

import numpy as np

# Without a questionnaire answer a customer is treated as the most cautious.
CAUTIOUS_APPETITE = 1.0


def suitable_products(
    risk_level: np.ndarray, min_age: np.ndarray, appetite: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Customers × products: True where the product's risk is within the customer's risk
    appetite (missing appetite: the most cautious) and its minimum age is met (unknown age:
    only products without one).

    Args:
        risk_level: per product, the catalogue's `risk_level` (1 cautious … 5 speculative).
        min_age: per product, the minimum age (0 or NaN: none).
        appetite: per customer, `risk_appetite` from the suitability questionnaire.
        age: per customer, age in years (NaN: unknown).
    """
    risk = np.asarray(risk_level, dtype="float64")
    minimum = np.nan_to_num(np.asarray(min_age, dtype="float64"), nan=0.0)
    appetite = np.asarray(appetite, dtype="float64")
    appetite = np.where(np.isnan(appetite), CAUTIOUS_APPETITE, appetite)
    age = np.asarray(age, dtype="float64")
    allowed = risk[None, :] <= appetite[:, None]
    allowed &= ~(age[:, None] < minimum[None, :])
    allowed &= ~(np.isnan(age)[:, None] & (minimum[None, :] > 0))
    return allowed
