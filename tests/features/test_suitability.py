"""The suitability rule serving applies to every offer and training judges offers by."""

from __future__ import annotations

import numpy as np

from features.suitability import suitable_products


def test_risk_within_appetite_and_minimum_age_met():
    risk = np.array([1, 3, 5])
    min_age = np.array([18, 18, 21])
    appetite = np.array([1, 3, 5, np.nan, 5])
    age = np.array([30, 30, 19, 30, np.nan])
    allowed = suitable_products(risk, min_age, appetite, age)
    expected = [
        [True, False, False],  # cautious: the safest product only
        [True, True, False],
        [True, True, False],  # speculative but 19: under the third product's 21
        [True, False, False],  # no questionnaire answer: as cautious as can be
        [False, False, False],  # unknown age: no product with a minimum age
    ]
    np.testing.assert_array_equal(allowed, expected)
    no_minimum = suitable_products(risk, np.array([0, np.nan, 0]), appetite, age)
    assert no_minimum[4].tolist() == [True, True, True]
