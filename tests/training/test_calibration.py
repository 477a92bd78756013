"""Calibration never says 0 or 1, and `auto` chooses on the validation period only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from training.binary import choose_calibration, describe_calibration, fit_calibration


def _separable(n: int = 400, seed: int = 0):
    """Raw scores whose lowest fifth never churns and whose highest twentieth always does:
    plain isotonic regression answers exactly 0 and exactly 1 there."""
    rng = np.random.default_rng(seed)
    raw = np.sort(rng.uniform(0, 1, n))
    labels = (rng.uniform(0, 1, n) < raw * 0.3).astype(float)
    labels[: n // 5] = 0
    labels[-n // 20 :] = 1
    return raw, labels


def test_plain_isotonic_gives_exactly_0_and_1_on_this_case():
    raw, labels = _separable()
    plain = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw, labels)
    predicted = plain.predict(raw)
    assert predicted.min() == 0.0 and predicted.max() == 1.0


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibrated_probabilities_are_strictly_inside_0_and_1(method):
    raw, labels = _separable()
    calibration = fit_calibration(raw, labels, method)
    # Beyond the fitted range too: raw scores of 0 and 1 exactly.
    probabilities = calibration.apply(np.concatenate([raw, [0.0, 1e-12, 1 - 1e-12, 1.0]]))
    assert (probabilities > 0).all() and (probabilities < 1).all(), method
    assert np.all(np.diff(calibration.apply(np.sort(raw))) >= 0), "calibration must be monotone"


def test_bounded_isotonic_ends_follow_laplace_on_the_end_steps():
    raw, labels = _separable()
    calibration = fit_calibration(raw, labels, "isotonic")
    plain = IsotonicRegression(out_of_bounds="clip").fit(raw, labels).predict(raw)
    lowest, highest = (plain == 0).sum(), (plain == 1).sum()
    assert calibration.lower == pytest.approx(1 / (lowest + 2))
    assert calibration.upper == pytest.approx(1 - 1 / (highest + 2))
    # Inner steps are untouched.
    inner = (plain > calibration.lower) & (plain < calibration.upper)
    np.testing.assert_allclose(calibration.apply(raw[inner]), plain[inner])


def test_perfectly_separated_platt_stays_inside():
    raw = np.linspace(0.01, 0.99, 200)
    labels = (raw > 0.5).astype(float)  # a step: Platt's slope runs off to the limit
    probabilities = fit_calibration(raw, labels, "platt").apply(raw)
    assert probabilities.min() > 0 and probabilities.max() < 1


def test_auto_picks_the_method_with_the_lower_cross_validated_loss():
    rng = np.random.default_rng(1)
    # A step-shaped truth (rate 2 % below a cut, 60 % above): isotonic fits it, a logistic
    # curve in the log-odds cannot.
    raw = rng.uniform(0, 1, 6000)
    step = np.where(raw > 0.8, 0.6, 0.02)
    labels = (rng.uniform(0, 1, raw.size) < step).astype(float)
    calibration, choice = choose_calibration(raw, labels, "auto", seed=0)
    assert choice.method == calibration.method == "isotonic"
    assert choice.cv_log_loss["isotonic"] < choice.cv_log_loss["platt"]
    # A truth exactly logistic in the raw score's log-odds, few rows: Platt's two
    # parameters beat isotonic's steps.
    raw = rng.uniform(0.01, 0.99, 300)
    truth = 1 / (1 + np.exp(-(-2.0 + 1.5 * np.log(raw / (1 - raw)))))
    labels = (rng.uniform(0, 1, raw.size) < truth).astype(float)
    calibration, choice = choose_calibration(raw, labels, "auto", seed=0)
    assert choice.method == "platt", choice.cv_log_loss


def test_the_choice_is_described_with_its_evidence():
    from training.binary import FitReport

    chosen = FitReport(1, 1.0, 1, 1, None, "platt", {"isotonic": 0.0612, "platt": 0.0601})
    assert "auto" in describe_calibration(chosen) and "0.0601" in describe_calibration(chosen)
    assert describe_calibration(FitReport(1, 1.0, 1, 1)) == "isotonic (bounded)"


def test_a_fixed_setting_is_used_as_it_is_and_too_few_positives_mean_platt():
    raw, labels = _separable()
    for setting in ("isotonic", "platt"):
        calibration, choice = choose_calibration(raw, labels, setting, seed=0)
        assert calibration.method == choice.method == setting and choice.cv_log_loss is None
    one_positive = np.zeros(50)
    one_positive[-1] = 1
    calibration, choice = choose_calibration(np.linspace(0, 1, 50), one_positive, "auto", 0)
    assert choice.method == "platt" and "no cross-validation" in choice.note
    with pytest.raises(ValueError, match="calibration"):
        fit_calibration(raw, labels, "beta")
