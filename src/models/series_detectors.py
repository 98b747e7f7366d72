"""Reference detectors for one multivariate series (T, D), and the label-free thresholds they share.

Every detector follows the same recipe, so that they differ only in how they score:
1. `fit` splits the training series in time: the head fits the scorer, the last
   `calib_fraction` is held out (no labels are used anywhere);
2. the held-out scores set the threshold, by Peaks-Over-Threshold (Siffer et al., KDD 2017:
   a generalised Pareto tail fitted above a high quantile, extrapolated to a false-alarm risk
   `risk`) or by a plain quantile;
   The default risk is 1e-2, not the 1e-3 of the SPOT paper, for a reason that needs no test
   labels: SMD's training split is unlabelled and not guaranteed clean, so the held-out tail's
   top 0.1 % holds rare unlabelled events, and extrapolating to 1e-3 put the threshold above
   most anomalies (it flagged ~0.1 % of the unlabelled test rows, against the ~4 % anomaly
   ratio that Su et al., KDD 2019, publish for SMD). 1e-2 keeps the expected false-alarm rate
   an order of magnitude below that anomaly ratio while staying inside the fitted tail
   (risk < 1 - level = 2e-2);
3. `score` returns (scores (T,), flags (T,), dim_scores (T, D)); dim_scores rank the dimensions
   for diagnosis, higher = more likely a root cause.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import genpareto
from sklearn.ensemble import IsolationForest


class SeriesInputError(ValueError):
    """A series given to a detector has the wrong shape or contains NaN."""


def check_series(series: np.ndarray, n_dims: int | None = None, what: str = "series") -> np.ndarray:
    """Return `series` as (T, D) float32, raising SeriesInputError on a bad shape or NaN."""
    arr = np.asarray(series, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise SeriesInputError(f"{what}: expected shape (T, D) with T >= 1, got {arr.shape}")
    if n_dims is not None and arr.shape[1] != n_dims:
        raise SeriesInputError(
            f"{what}: {arr.shape[1]} dims, but the detector was fitted on {n_dims}"
        )
    if not np.isfinite(arr).all():
        row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise SeriesInputError(f"{what}: row {row} contains NaN or infinite values")
    return arr


def trailing_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Causal moving average over the last k points along axis 0 (fewer at the start)."""
    if k <= 1:
        return x
    c = np.cumsum(x, axis=0, dtype=np.float64)
    c = np.concatenate([np.zeros((1, *x.shape[1:])), c])  # (T+1, ...)
    t = np.arange(1, x.shape[0] + 1)
    lo = np.maximum(t - k, 0)
    width = (t - lo).reshape(-1, *([1] * (x.ndim - 1)))
    return ((c[t] - c[lo]) / width).astype(np.float32)


def pot_threshold(scores: np.ndarray, risk: float = 1e-2, level: float = 0.98) -> float:
    """Peaks-Over-Threshold: the score exceeded with probability `risk` under a GPD tail.

    The tail above the `level` quantile is fitted by maximum likelihood (location fixed at 0);
    a tail too short or degenerate to fit falls back to the empirical quantile 1 - risk.
    """
    s = np.asarray(scores, dtype=np.float64)
    if not 0 < risk < 1 - level:
        raise SeriesInputError(
            f"pot_threshold: need 0 < risk < 1 - level, got risk={risk}, level={level}"
        )
    init = float(np.quantile(s, level))
    peaks = s[s > init] - init
    if peaks.size < 10 or np.ptp(peaks) <= 0:
        return float(np.quantile(s, 1 - risk))
    gamma, _, sigma = genpareto.fit(peaks, floc=0)
    ratio = risk * s.size / peaks.size
    if abs(gamma) < 1e-6:
        return init - sigma * float(np.log(ratio))
    return init + sigma / gamma * (ratio ** (-gamma) - 1)


def choose_threshold(scores: np.ndarray, method: str, risk: float, level: float) -> float:
    """Threshold from held-out normal scores: `pot` or `quantile` (at 1 - risk)."""
    if method == "pot":
        return pot_threshold(scores, risk, level)
    if method == "quantile":
        return float(np.quantile(scores, 1 - risk))
    raise SeriesInputError(f"threshold method: expected 'pot' or 'quantile', got {method!r}")


def split_calibration(train: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Split train in time into (fit, calibration); the calibration tail is the last part."""
    if not 0 < fraction < 1:
        raise SeriesInputError(f"calib_fraction: expected in (0, 1), got {fraction}")
    cut = int(round(train.shape[0] * (1 - fraction)))
    if cut < 2 or train.shape[0] - cut < 2:
        raise SeriesInputError(
            f"train: {train.shape[0]} rows are too few to hold out {fraction:.0%}"
        )
    return train[:cut], train[cut:]


@dataclass
class RobustScale:
    """Per-dimension median and a floored MAD scale, fitted on normal data."""

    median: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)

    @classmethod
    def fit(cls, x: np.ndarray, floor: float) -> RobustScale:
        """Median and scale per dimension of a (T, D) normal series."""
        median = np.median(x, axis=0)
        mad = 1.4826 * np.median(np.abs(x - median), axis=0)
        # Many server metrics are flat in training: their MAD is 0 and any change would give
        # an infinite z; a tenth of the standard deviation, then `floor`, bounds the scale.
        scale = np.maximum(np.maximum(mad, 0.1 * x.std(axis=0)), floor)
        return cls(median.astype(np.float32), scale.astype(np.float32))

    def z(self, x: np.ndarray, clip: float) -> np.ndarray:
        """|x - median| / scale per point and dimension, clipped at `clip`: (T, D)."""
        return np.minimum(np.abs(x - self.median) / self.scale, clip)  # (T, D)


class RobustZScoreDetector:
    """Per-dimension robust z-score (median/MAD from train); score = RMS of the clipped z."""

    name = "robust_z"

    def __init__(
        self,
        smooth: int = 5,
        clip: float = 50.0,
        scale_floor: float = 1e-2,
        calib_fraction: float = 0.2,
        threshold: str = "pot",
        risk: float = 1e-2,
        level: float = 0.98,
    ) -> None:
        self.smooth, self.clip, self.scale_floor = smooth, clip, scale_floor
        self.calib_fraction, self.threshold_method = calib_fraction, threshold
        self.risk, self.level = risk, level
        self._scale: RobustScale | None = None
        self.threshold: float | None = None

    def _score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._scale is not None
        dim = trailing_mean(self._scale.z(x, self.clip), self.smooth)  # (T, D)
        return np.sqrt(np.mean(dim**2, axis=1)), dim  # (T,), (T, D)

    def fit(self, train: np.ndarray) -> None:
        x = check_series(train, what="train")
        head, tail = split_calibration(x, self.calib_fraction)
        self._scale = RobustScale.fit(head, self.scale_floor)
        calib, _ = self._score(tail)
        self.threshold = choose_threshold(calib, self.threshold_method, self.risk, self.level)

    def score(self, series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._scale is None or self.threshold is None:
            raise RuntimeError(f"{self.name}: call fit before score")
        x = check_series(series, self._scale.median.shape[0])
        scores, dim = self._score(x)
        return scores, scores > self.threshold, dim


class IsolationForestDetector:
    """scikit-learn's Isolation Forest on each row; dim_scores from the robust z-score.

    An Isolation Forest has no per-dimension attribution, so diagnosis uses the robust
    per-dimension z of the same rows (fitted on the same training head).
    """

    name = "iforest"

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: int = 512,
        smooth: int = 5,
        seed: int = 0,
        calib_fraction: float = 0.2,
        threshold: str = "pot",
        risk: float = 1e-2,
        level: float = 0.98,
    ) -> None:
        self.n_estimators, self.max_samples, self.smooth, self.seed = (
            n_estimators,
            max_samples,
            smooth,
            seed,
        )
        self.calib_fraction, self.threshold_method = calib_fraction, threshold
        self.risk, self.level = risk, level
        self._forest: IsolationForest | None = None
        self._scale: RobustScale | None = None
        self.threshold: float | None = None

    def _score(self, x: np.ndarray) -> np.ndarray:
        assert self._forest is not None
        return trailing_mean(-self._forest.score_samples(x).astype(np.float32), self.smooth)

    def fit(self, train: np.ndarray) -> None:
        x = check_series(train, what="train")
        head, tail = split_calibration(x, self.calib_fraction)
        self._forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, head.shape[0]),
            random_state=np.random.RandomState(self.seed),
        ).fit(head)
        self._scale = RobustScale.fit(head, 1e-2)
        self.threshold = choose_threshold(
            self._score(tail), self.threshold_method, self.risk, self.level
        )

    def score(self, series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._forest is None or self._scale is None or self.threshold is None:
            raise RuntimeError(f"{self.name}: call fit before score")
        x = check_series(series, self._scale.median.shape[0])
        scores = self._score(x)
        dim = trailing_mean(self._scale.z(x, 50.0), self.smooth)  # (T, D)
        return scores, scores > self.threshold, dim


class PercentileRuleDetector:
    """The original PreGAN's rule: a point is faulty when any dimension exceeds its percentile.

    Percentiles (98th in the original) are taken per dimension over the training series, not
    the series being judged, which removes the original's circularity but keeps its rule.
    score = largest exceedance over the percentile in units of the dimension's training range.
    """

    name = "percentile"

    def __init__(self, percentile: float = 98.0) -> None:
        if not 0 < percentile < 100:
            raise SeriesInputError(f"percentile: expected in (0, 100), got {percentile}")
        self.percentile = percentile
        self._cut: np.ndarray | None = None
        self._range: np.ndarray | None = None

    def fit(self, train: np.ndarray) -> None:
        x = check_series(train, what="train")
        self._cut = np.percentile(x, self.percentile, axis=0).astype(np.float32)  # (D,)
        self._range = np.maximum(np.ptp(x, axis=0), 1e-6).astype(np.float32)  # (D,)

    def score(self, series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._cut is None or self._range is None:
            raise RuntimeError(f"{self.name}: call fit before score")
        x = check_series(series, self._cut.shape[0])
        dim = (x - self._cut) / self._range  # (T, D)
        scores = dim.max(axis=1)
        return scores, scores > 0, dim
