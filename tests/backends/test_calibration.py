from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from labelloop.backends.calibration import (
    IsotonicCalibrator,
    TemperatureScaling,
    calibration_gain,
    expected_calibration_error,
    pav,
)

unit = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 200))
    s = draw(arrays(np.float64, n, elements=unit))
    y = draw(arrays(np.bool_, n))
    return s, y


@given(pairs(), st.integers(1, 30))
def test_ece_in_unit_interval(p: tuple[np.ndarray, np.ndarray], bins: int) -> None:
    assert 0.0 <= expected_calibration_error(*p, n_bins=bins) <= 1.0


@given(pairs(), arrays(np.float64, 50, elements=unit))
@settings(max_examples=60)
def test_isotonic_is_monotone(p: tuple[np.ndarray, np.ndarray], probe: np.ndarray) -> None:
    iso = IsotonicCalibrator().fit(*p)
    x = np.sort(probe)
    out = iso.predict(x)
    assert np.all(np.diff(out) >= -1e-12) and np.all((out >= 0) & (out <= 1))


@given(arrays(np.float64, st.integers(1, 60), elements=st.floats(-5, 5)))
def test_pav_is_monotone_and_keeps_the_mean(y: np.ndarray) -> None:
    fit = pav(y)
    assert np.all(np.diff(fit) >= -1e-9) and np.isclose(fit.mean(), y.mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_perfectly_calibrated_data_has_ece_near_zero(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = rng.uniform(0, 1, 50_000)
    assert expected_calibration_error(s, rng.random(50_000) < s) < 0.015


@pytest.mark.parametrize("calibrator", [IsotonicCalibrator(), TemperatureScaling()])
def test_calibrators_fix_overconfidence(calibrator: IsotonicCalibrator | TemperatureScaling) -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2, 20_000)
    true_p = 1 / (1 + np.exp(-logits))
    correct = rng.random(20_000) < true_p
    scores = 1 / (1 + np.exp(-3 * logits))  # temperature 1/3: over-confident
    calibrator.fit(scores[:10_000], correct[:10_000])
    before, after = calibration_gain(calibrator, scores[10_000:], correct[10_000:])
    assert before > 0.08 and after < 0.03
    if isinstance(calibrator, TemperatureScaling):
        assert calibrator.temperature_ == pytest.approx(3.0, rel=0.1)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="within"):
        expected_calibration_error([1.5], [1])
    with pytest.raises(ValueError, match="differ"):
        IsotonicCalibrator().fit([0.5, 0.2], [1])
