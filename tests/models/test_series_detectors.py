"""Series detectors: find an injected fault and its dimension, label-free thresholds, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pregan.models.interfaces import SeriesDetector
from pregan.models.pregan_series_detector import PreganSeriesDetector
from pregan.models.series_detectors import (
    IsolationForestDetector,
    PercentileRuleDetector,
    RobustZScoreDetector,
    SeriesInputError,
    pot_threshold,
    trailing_mean,
)


def _series(seed: int = 0, t: int = 600, d: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    phase = np.linspace(0, 12 * np.pi, t)[:, None]
    return (0.5 + 0.1 * np.sin(phase + np.arange(d)) + 0.01 * rng.standard_normal((t, d))).astype(
        np.float32
    )


def _faulty_test() -> np.ndarray:
    test = _series(seed=1, t=300)
    test[150:170, 2] += 0.6  # a fault on dim 2
    return test


@pytest.mark.parametrize(
    "detector",
    [
        RobustZScoreDetector(),
        IsolationForestDetector(n_estimators=50, seed=0),
        PercentileRuleDetector(),
        PreganSeriesDetector(window=5, latent=8, heads=2, epochs=2, batch_size=64, seed=0),
    ],
    ids=lambda d: d.name,
)
def test_detector_flags_fault_and_ranks_its_dimension(detector: SeriesDetector) -> None:
    assert isinstance(detector, SeriesDetector)
    detector.fit(_series())
    scores, flags, dim = detector.score(_faulty_test())
    assert scores.shape == (300,) and flags.dtype == bool and dim.shape == (300, 4)
    assert flags[155:170].mean() > 0.5
    assert scores[155:170].mean() > scores[:140].mean()
    assert (np.argmax(dim[155:170], axis=1) == 2).mean() > 0.8


def test_learned_thresholds_rarely_flag_normal_data() -> None:
    for det in (RobustZScoreDetector(), IsolationForestDetector(n_estimators=50)):
        det.fit(_series())
        _, flags, _ = det.score(_series(seed=2, t=300))
        assert flags.mean() < 0.05, det.name


def test_pregan_detector_is_deterministic_under_seed() -> None:
    outs = []
    for _ in range(2):
        det = PreganSeriesDetector(window=5, latent=8, heads=2, epochs=1, batch_size=64, seed=3)
        det.fit(_series())
        outs.append(det.score(_faulty_test())[0])
    np.testing.assert_array_equal(outs[0], outs[1])


def test_pregan_detector_accepts_any_encoder_factory() -> None:
    class Flat(torch.nn.Module):
        def __init__(self, f: int, w: int, latent: int, *_: int) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(w * f, latent)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, w, n, f = x.shape
            return self.lin(x.permute(0, 2, 1, 3).reshape(b, n, w * f))  # (B, N, latent)

    det = PreganSeriesDetector(window=4, latent=6, epochs=1, encoder_factory=Flat)
    det.fit(_series())
    assert det.score(_faulty_test())[2].shape == (300, 4)


def test_bad_input_errors() -> None:
    det = RobustZScoreDetector()
    with pytest.raises(RuntimeError, match="fit before score"):
        det.score(_series())
    with pytest.raises(SeriesInputError, match="expected shape"):
        det.fit(np.zeros(10))
    bad = _series()
    bad[7, 1] = np.nan
    with pytest.raises(SeriesInputError, match="row 7"):
        det.fit(bad)
    det.fit(_series())
    with pytest.raises(SeriesInputError, match="3 dims, but the detector was fitted on 4"):
        det.score(_series(d=3))


def test_pot_threshold_extrapolates_exponential_tail() -> None:
    rng = np.random.default_rng(0)
    s = rng.exponential(1.0, 100_000)
    # exact quantile for risk 1e-4 is ln(1e4) = 9.21
    assert pot_threshold(s, risk=1e-4, level=0.98) == pytest.approx(np.log(1e4), rel=0.05)


def test_trailing_mean() -> None:
    x = np.array([[1.0], [3.0], [5.0], [7.0]])
    np.testing.assert_allclose(trailing_mean(x, 2)[:, 0], [1.0, 2.0, 4.0, 6.0])


def test_pregan_deviation_adds_level_evidence_on_top_of_forecast_error() -> None:
    """Same seed, same model: the robust z term only adds, and adds most on the faulty dim."""
    kwargs = dict(window=5, latent=8, heads=2, epochs=2, batch_size=64, seed=0)
    with_z, without_z = (
        PreganSeriesDetector(**kwargs),
        PreganSeriesDetector(deviation=False, **kwargs),
    )
    for det in (with_z, without_z):
        det.fit(_series())
    assert len(with_z.train_losses) == 2
    dim_z = with_z.score(_faulty_test())[2]
    dim_e = without_z.score(_faulty_test())[2]
    extra = dim_z - dim_e  # (T, D) the smoothed robust z
    assert (extra >= -1e-5).all()
    assert extra[155:170, 2].mean() > 4 * extra[155:170, [0, 1, 3]].mean()
