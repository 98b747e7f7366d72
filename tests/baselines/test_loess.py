import numpy as np
import pytest
from statsmodels.nonparametric.smoothers_lowess import lowess

from pregan.models.recovery.baselines.loess import LoessError, loess_next, predict_next_cpu


def test_matches_statsmodels_on_each_host():
    rng = np.random.default_rng(0)
    history = rng.uniform(0.0, 1.0, size=(10, 5))  # (n, H)
    x = np.arange(10.0)
    expected = [
        lowess(history[:, h], x, frac=0.6, it=0, xvals=np.array([10.0]))[0] for h in range(5)
    ]
    np.testing.assert_allclose(loess_next(history, 0.6), expected, rtol=1e-10)


def test_hand_computed_value():
    # statsmodels and a by-hand weighted fit (6 nearest, tricube, radius = 6th distance) agree.
    y = np.array([0.1, 0.3, 0.2, 0.5, 0.4, 0.6, 0.55, 0.7, 0.9, 0.8])
    assert loess_next(y[:, None], 0.6)[0] == pytest.approx(0.9383492150357866, abs=1e-12)


def test_linear_series_extrapolates_exactly():
    y = 0.1 + 0.05 * np.arange(10.0)
    assert loess_next(y[:, None], 0.6)[0] == pytest.approx(0.1 + 0.05 * 10)


def test_warm_up_returns_last_value_and_not_ready():
    metrics = np.zeros((3, 2, 4), dtype=np.float32)
    metrics[-1, :, 0] = [0.8, 0.1]
    pred, ready = predict_next_cpu(metrics, window=10, span=0.6)
    assert not ready
    np.testing.assert_allclose(pred, [0.8, 0.1], rtol=1e-6)


def test_too_small_span_is_rejected():
    with pytest.raises(LoessError, match="span"):
        loess_next(np.ones((4, 1)), 0.5)
