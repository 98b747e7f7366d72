"""SPOT / DSPOT: false-alarm rate near `risk` on stationary streams, injected shifts found."""

from __future__ import annotations

import numpy as np
import pytest

from pregan.models.detectors.streaming_threshold import (
    ThresholdConfigError,
    dspot,
    gpd_pwm,
    gpd_threshold,
    spot,
)


def test_pwm_recovers_gpd_parameters() -> None:
    rng = np.random.default_rng(0)
    gamma, sigma = 0.2, 1.5
    u = rng.random(20_000)
    x = sigma / gamma * ((1 - u) ** (-gamma) - 1)  # inverse CDF of GPD(gamma, sigma)
    g_hat, s_hat = gpd_pwm(x)
    assert g_hat == pytest.approx(gamma, abs=0.03)
    assert s_hat == pytest.approx(sigma, rel=0.05)


def test_pwm_exponential_and_degenerate_tails() -> None:
    rng = np.random.default_rng(1)
    g, s = gpd_pwm(rng.exponential(2.0, 20_000))
    assert abs(g) < 0.03 and s == pytest.approx(2.0, rel=0.05)
    assert gpd_pwm(np.ones(5)) == (0.0, 1.0)  # too few peaks: exponential with sigma = mean
    assert gpd_pwm(np.zeros(50)) == (0.0, 0.0)


def test_gpd_threshold_exponential_quantile_and_clamp() -> None:
    # 2 % of 1000 points above init=0 with unit exponential tail: P(X > z) = 0.02 e^{-z}
    z = float(gpd_threshold(0.0, 0.0, 1.0, risk=1e-3, n_seen=1000, n_peaks=20))
    assert z == pytest.approx(np.log(20), rel=1e-6)
    # more risk than the tail holds would put z under init: clamped
    assert gpd_threshold(3.0, 0.0, 1.0, risk=0.5, n_seen=100, n_peaks=2) == 3.0


@pytest.mark.parametrize("risk", [1e-2, 3e-3])
def test_spot_false_alarm_rate_near_risk_on_stationary_stream(risk: float) -> None:
    rng = np.random.default_rng(2)
    calib = rng.standard_normal(5_000)
    stream = rng.standard_normal(50_000)
    rate = spot(calib, stream, risk=risk, level=0.98).flags.mean()
    # alarms are not learned, so the truncated tail settles near 2 x risk (module docstring)
    assert 1.2 * risk < rate < 2.5 * risk


def test_spot_flags_injected_level_shift() -> None:
    rng = np.random.default_rng(3)
    calib = rng.standard_normal(5_000)
    stream = rng.standard_normal(10_000)
    stream[6_000:6_100] += 6.0
    res = spot(calib, stream, risk=1e-2, level=0.98)
    assert res.flags[6_000:6_100].mean() > 0.9
    assert res.flags[:6_000].mean() < 0.02
    assert res.thresholds.shape == stream.shape and np.isfinite(res.thresholds).all()


def test_spot_lowers_its_threshold_on_a_calmer_stream() -> None:
    """Few peaks in a long calm stream shrink the tail estimate: a mild late shift is caught."""
    rng = np.random.default_rng(4)
    calib = rng.standard_normal(5_000)
    stream = 0.5 * rng.standard_normal(40_000)
    stream[39_000:39_200] += 2.2  # below the initial threshold, above the adapted one
    res = spot(calib, stream, risk=1e-2, level=0.98)
    assert res.thresholds[38_000] < res.thresholds[0] - 0.1
    assert res.flags[39_000:39_200].mean() > 0.5
    assert (stream[39_000:39_200] > res.thresholds[0]).mean() < res.flags[39_000:39_200].mean()
    assert res.flags[:39_000].mean() < 1e-3


def test_dspot_absorbs_drift_that_spot_keeps_flagging() -> None:
    rng = np.random.default_rng(5)
    calib = rng.standard_normal(5_000)
    stream = rng.standard_normal(20_000) + np.linspace(0, 8, 20_000)  # slow drift upwards
    stream[15_000:15_050] += 8.0  # a sudden jump on top of the drift
    s = spot(calib, stream, risk=1e-2, level=0.98).flags
    d = dspot(calib, stream, risk=1e-2, level=0.98, depth=50).flags
    assert s[10_000:15_000].mean() > 0.5  # static reference: the drift fires for ever
    assert d[10_000:15_000].mean() < 0.03
    assert d[15_000:15_050].mean() > 0.8


def test_dspot_alarm_budget_bounds_a_noisier_regime_but_flags_an_incident() -> None:
    rng = np.random.default_rng(7)
    calib = rng.standard_normal(5_000)
    stream = rng.standard_normal(20_000)
    stream[5_000:] *= 6.0  # benign regime change: the score becomes much noisier for good
    stream[2_000:2_100] += 10.0  # an incident before it, shorter than the budget
    plain = dspot(calib, stream, risk=1e-2, level=0.98, depth=300).flags
    budget = dspot(calib, stream, risk=1e-2, level=0.98, depth=300, absorb=300).flags
    assert plain[15_000:].mean() > 0.9  # without a budget the new regime fires for ever
    per_window = np.convolve(budget, np.ones(300), "valid")  # alarms in each 300-row window
    assert per_window.max() <= 0.6 * 300 and budget[15_000:].mean() < 0.7
    assert budget[2_000:2_100].mean() > 0.9  # an incident shorter than the budget: in full
    np.testing.assert_array_equal(plain[:5_000], budget[:5_000])


def test_bad_parameters() -> None:
    calib = np.random.default_rng(6).standard_normal(1_000)
    with pytest.raises(ThresholdConfigError, match="risk"):
        spot(calib, calib, risk=0.05, level=0.98)
    with pytest.raises(ThresholdConfigError, match="level"):
        spot(calib, calib, risk=0.01, level=1.0)
    with pytest.raises(ThresholdConfigError, match="calibration scores: 10 points"):
        spot(calib[:10], calib, risk=0.01, level=0.98)
    with pytest.raises(ThresholdConfigError, match="depth"):
        dspot(calib, calib, risk=0.01, level=0.98, depth=0)
    with pytest.raises(ThresholdConfigError, match="absorb"):
        dspot(calib, calib, risk=0.01, level=0.98, depth=10, absorb=-1)
    bad = calib.copy()
    bad[3] = np.nan
    with pytest.raises(ThresholdConfigError, match="NaN"):
        spot(bad, calib, risk=0.01, level=0.98)
