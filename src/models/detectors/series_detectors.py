"""Reference detectors for one multivariate series (T, D), and the label-free thresholds they share.

Every detector follows the same recipe, so that they differ only in how they score:
1. `fit` splits the training series in time: the head fits the scorer, the last
   `calib_fraction` is held out (no labels are used anywhere);
2. the held-out scores calibrate the shared `Thresholder`. Its default, SPOT (Siffer et al.,
   KDD 2017; `pregan.models.detectors.streaming_threshold`), starts from a generalised Pareto tail
   fitted above the `level` quantile of those scores and keeps updating on the unlabelled
   test score stream, which follows SMD's train-to-test drift; static POT and a plain
   quantile remain available. Choices, all on synthetic anomalies injected into the held-out
   tail of each SMD train split (`pipelines/benchmark_detection.py synthetic=true`), never
   on test labels (mean over 7 machines x 3 injection seeds):
   - SPOT over static POT: F1 0.20 / point-adjusted F1 0.54 against 0.18 / 0.52 (context
     deviation scores of `context_deviation`);
   - risk 1e-2 over 3e-3 and 1e-3 (F1 0.14 and 0.10 there), and level 0.98 over 0.95 / 0.9
     with risks up to 5e-2 (PreGAN's scores: F1 0.38, PA-F1 0.62, against 0.33-0.38 /
     0.48-0.61);
   - DSPOT (depth 100-1000) within 0.02 F1 of SPOT, so the simpler SPOT stays;
3. `score` returns (scores (T,), flags (T,), dim_scores (T, D)); dim_scores rank the dimensions
   for diagnosis, higher = more likely a root cause.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from scipy.stats import genpareto
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from pregan.models.detectors.streaming_threshold import ThresholdConfigError, dspot, spot


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


def ewma(x: np.ndarray, alpha: float) -> np.ndarray:
    """Causal exponentially weighted mean along axis 0: y_t = alpha x_t + (1 - alpha) y_{t-1}.

    y_0 = x_0. Unlike the trailing mean, a spike decays instead of dropping out after k rows.
    """
    if not 0 < alpha <= 1:
        raise SeriesInputError(f"ewma: alpha must be in (0, 1], got {alpha}")
    frame = pd.DataFrame(np.asarray(x, dtype=np.float64).reshape(x.shape[0], -1))
    out = frame.ewm(alpha=alpha, adjust=False).mean().to_numpy()
    return out.reshape(x.shape).astype(np.float32)


def context_deviation(
    x: np.ndarray, history: np.ndarray, window: int, scale: np.ndarray
) -> np.ndarray:
    """|x_t - median(x_{t-window..t-1})| / scale per point and dimension: (T, D).

    The median runs over the previous `window` rows only (causal; `history` supplies the rows
    before x, e.g. the end of the training series), so a point is judged against its own
    recent past rather than against the training level. On real traces whose level moves
    between train and test this stops a moved dimension from firing for ever, while an abrupt
    change still stands out for about `window` rows.
    """
    if window < 1:
        raise SeriesInputError(f"context window: expected >= 1, got {window}")
    past = history[-window:]
    full = pd.DataFrame(np.concatenate([past, x]).astype(np.float64))  # (P+T, D)
    med = full.shift(1).rolling(window, min_periods=1).median().to_numpy()[past.shape[0] :]
    if past.shape[0] == 0:
        med[0] = x[0]  # no history: the first row is its own reference
    return (np.abs(x - med) / scale).astype(np.float32)  # (T, D)


def causal_spread(x: np.ndarray, history: np.ndarray, window: int) -> np.ndarray:
    """Robust spread (IQR / 1.349) of the previous `window` rows per point and dimension: (T, D).

    Causal like `context_deviation`: row t sees rows t-window..t-1, the first ones reaching
    into `history`. Before a tenth of the window is available the spread is 0 (unknown).
    """
    past = history[-window:]
    full = pd.DataFrame(np.concatenate([past, x]).astype(np.float64)).shift(1)  # (P+T, D)
    roll = full.rolling(window, min_periods=max(2, window // 10))
    iqr = (roll.quantile(0.75) - roll.quantile(0.25)).to_numpy()[past.shape[0] :] / 1.349
    return np.nan_to_num(iqr, nan=0.0).astype(np.float32)  # (T, D)


def causal_median(x: np.ndarray, window: int) -> np.ndarray:
    """Median of the previous `window` rows of x (T, D) per point; 0 until a tenth is seen."""
    roll = (
        pd.DataFrame(x.astype(np.float64))
        .shift(1)
        .rolling(window, min_periods=max(2, window // 10))
    )
    return np.nan_to_num(roll.median().to_numpy(), nan=0.0).astype(np.float32)  # (T, D)


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
    """Static threshold from held-out normal scores: `pot` or `quantile` (at 1 - risk)."""
    if method == "pot":
        return pot_threshold(scores, risk, level)
    if method == "quantile":
        return float(np.quantile(scores, 1 - risk))
    raise SeriesInputError(f"threshold method: expected 'pot' or 'quantile', got {method!r}")


MIN_TAIL_POINTS = 5
"""Calibration scores that must lie above the tail's starting quantile (`effective_level`)."""

MIN_CALIBRATION = 10
"""Fewest held-out scores a threshold is set from: under it, the error asks for more data."""

THRESHOLD_METHODS: tuple[str, ...] = ("spot", "dspot", "pot", "quantile")
"""Streaming (SPOT, DSPOT: adapt on the unlabelled test stream) or static (POT, quantile)."""


@dataclass
class Thresholder:
    """The label-free threshold every detector shares: calibrated on held-out normal scores.

    `spot` / `dspot` keep updating on the scored stream itself (`pregan.models.
    streaming_threshold`), which follows the train-to-test drift of real traces without any
    label; `pot` / `quantile` fix one threshold from the calibration scores.
    `threshold` is the threshold in force before the stream starts. `absorb` / `absorb_share`:
    DSPOT's alarm budget (`streaming_threshold` module doc); 0 turns it off.

    The six settings (method .. absorb_share) are the one thresholding config: every detector
    takes them as one `thresholding` argument (`from_spec`), and the benchmark's configs pass
    the shared `thresholding` block of conf/benchmark_detection.yaml, where the notes on how
    each value was chosen live. `calib`, `threshold` and `last_thresholds` are state.
    """

    method: str = "spot"
    risk: float = 1e-2
    level: float = 0.98
    depth: int = 100
    absorb: int = 0
    absorb_share: float = 0.6
    calib: np.ndarray | None = field(default=None, init=False, repr=False)
    threshold: float | None = field(default=None, init=False)
    # (T,) in force at each point of the last `flag`
    last_thresholds: np.ndarray | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_spec(cls, spec: ThresholdSpec) -> Thresholder:
        """A fresh, uncalibrated Thresholder from a detector's `thresholding` argument.

        None: the defaults; a mapping (a Hydra config node): its settings; a Thresholder: a
        copy of its settings without its state, so that detectors never share calibration.
        """
        if spec is None:
            return cls()
        settings = [f.name for f in fields(cls) if f.init]
        if isinstance(spec, Thresholder):
            return cls(**{k: getattr(spec, k) for k in settings})
        if not isinstance(spec, Mapping):
            raise SeriesInputError(
                f"thresholding: expected a mapping of {settings} or a Thresholder, got "
                f"{type(spec).__name__}"
            )
        unknown = sorted(set(spec) - set(settings))
        if unknown:
            raise SeriesInputError(f"thresholding: unknown keys {unknown}; known: {settings}")
        return cls(**{str(k): v for k, v in spec.items()})

    def __post_init__(self) -> None:
        if self.method not in THRESHOLD_METHODS:
            raise SeriesInputError(
                f"threshold method: expected one of {THRESHOLD_METHODS}, got {self.method!r}"
            )
        if not 0 < self.risk < 1 - self.level < 1:
            raise SeriesInputError(
                f"threshold: need 0 < risk < 1 - level < 1, got risk={self.risk}, "
                f"level={self.level}"
            )

    @property
    def effective_depth(self) -> int:
        """DSPOT's local-mean depth, capped at a quarter of the calibration scores.

        An entity with a short train split (an MSL or SMAP channel holds a few hundred to a
        few thousand rows; its held-out fifth may be under `depth`) would otherwise be refused
        at the first score: the depth that fits the calibration is used instead.
        """
        if self.calib is None:
            raise RuntimeError("threshold: call calibrate before flag")
        return max(1, min(self.depth, self.calib.size // 4))

    @property
    def effective_level(self) -> float:
        """The tail's starting quantile, lowered so that MIN_TAIL_POINTS scores lie above it.

        The original's traces hold ~100 intervals per host, so a fifth held out gives a few
        dozen calibration scores: at `level` 0.98 not one lies above the quantile and no tail
        can start. With n scores in the fit (DSPOT: those after its local-mean depth) the level
        is at most 1 - MIN_TAIL_POINTS / n; SMD's thousands of held-out rows keep `level`.
        """
        if self.calib is None:
            raise RuntimeError("threshold: call calibrate before flag")
        n = self.calib.size - (self.effective_depth if self.method == "dspot" else 0)
        return min(self.level, 1.0 - MIN_TAIL_POINTS / n)

    def calibrate(self, calib_scores: np.ndarray) -> None:
        """Remember the held-out scores and the threshold they give before any stream."""
        calib = np.asarray(calib_scores, dtype=np.float64).ravel()
        if calib.size < MIN_CALIBRATION:
            raise SeriesInputError(
                f"threshold: {calib.size} held-out scores are too few to set a threshold "
                f"(need >= {MIN_CALIBRATION}); give the detector a longer train split or a "
                "larger calib_fraction"
            )
        self.calib = calib
        static = "quantile" if self.method == "quantile" else "pot"
        self.threshold = choose_threshold(self.calib, static, self.risk, self.effective_level)

    def flag(self, scores: np.ndarray) -> np.ndarray:
        """Flags (T,) of a score stream, in time order."""
        if self.calib is None or self.threshold is None:
            raise RuntimeError("threshold: call calibrate before flag")
        try:
            if self.method in ("spot", "dspot"):
                result = (
                    spot(self.calib, scores, self.risk, self.effective_level)
                    if self.method == "spot"
                    else dspot(
                        self.calib,
                        scores,
                        self.risk,
                        self.effective_level,
                        self.effective_depth,
                        self.absorb,
                        self.absorb_share,
                    )
                )
                self.last_thresholds = result.thresholds
                return result.flags
        except ThresholdConfigError as err:
            raise SeriesInputError(f"threshold {self.method}: {err}") from err
        self.last_thresholds = np.full(np.shape(scores), self.threshold)
        return np.asarray(scores) > self.threshold


ThresholdSpec: TypeAlias = Thresholder | Mapping[str, Any] | None
"""What a detector's `thresholding` argument accepts (`Thresholder.from_spec`)."""


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


class CalibratedDetector:
    """Base of the detectors whose shared `Thresholder` is calibrated on the held-out tail.

    The recipe of the module doc: `fit` holds out the last `calib_fraction` of train
    (`split_calibration`), fits the scorer on the head (`_fit_head`) and calibrates
    `thresholder` on the tail's scores; `score` checks the series, scores it (`_score`, which
    returns (scores (T,), dim_scores (T, D))) and flags it. `threshold` is the value in force
    before the test stream (the streaming methods then adapt it). A detector that needs more
    (PreGAN's forecaster reads the rows before each window) overrides `fit` and `score`.
    """

    name: str
    _n_dims: int | None = None  # D of the training series, set by `fit`

    def __init__(self, calib_fraction: float, thresholding: ThresholdSpec = None) -> None:
        self.calib_fraction = calib_fraction
        self.thresholder = Thresholder.from_spec(thresholding)

    @property
    def threshold(self) -> float | None:
        """The threshold in force before the test stream (streaming methods then adapt it)."""
        return self.thresholder.threshold

    def _fit_head(self, head: np.ndarray) -> None:
        raise NotImplementedError

    def _score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, train: np.ndarray) -> None:
        x = check_series(train, what="train")
        head, tail = split_calibration(x, self.calib_fraction)
        self._fit_head(head)
        self._n_dims = x.shape[1]
        self.thresholder.calibrate(self._score(tail)[0])

    def score(self, series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._n_dims is None:
            raise RuntimeError(f"{self.name}: call fit before score")
        scores, dim = self._score(check_series(series, self._n_dims))
        return scores, self.thresholder.flag(scores), dim


class RobustZScoreDetector(CalibratedDetector):
    """Per-dimension robust z-score (median/MAD from train); score = RMS of the clipped z."""

    name = "robust_z"

    def __init__(
        self,
        smooth: int = 5,
        clip: float = 50.0,
        scale_floor: float = 1e-2,
        calib_fraction: float = 0.2,
        thresholding: ThresholdSpec = None,
    ) -> None:
        self.smooth, self.clip, self.scale_floor = smooth, clip, scale_floor
        super().__init__(calib_fraction, thresholding)
        self._scale: RobustScale | None = None

    def _score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._scale is not None
        dim = trailing_mean(self._scale.z(x, self.clip), self.smooth)  # (T, D)
        return np.sqrt(np.mean(dim**2, axis=1)), dim  # (T,), (T, D)

    def _fit_head(self, head: np.ndarray) -> None:
        self._scale = RobustScale.fit(head, self.scale_floor)


class IsolationForestDetector(CalibratedDetector):
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
        thresholding: ThresholdSpec = None,
    ) -> None:
        self.n_estimators, self.max_samples, self.smooth, self.seed = (
            n_estimators,
            max_samples,
            smooth,
            seed,
        )
        super().__init__(calib_fraction, thresholding)
        self._forest: IsolationForest | None = None
        self._scale: RobustScale | None = None

    def _score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._forest is not None and self._scale is not None
        scores = trailing_mean(-self._forest.score_samples(x).astype(np.float32), self.smooth)
        dim = trailing_mean(self._scale.z(x, 50.0), self.smooth)  # (T, D)
        return scores, dim  # (T,), (T, D)

    def _fit_head(self, head: np.ndarray) -> None:
        self._forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, head.shape[0]),
            random_state=np.random.RandomState(self.seed),
        ).fit(head)
        self._scale = RobustScale.fit(head, 1e-2)


class PcaResidualDetector(CalibratedDetector):
    """Reconstruction error of a PCA fitted on normal rows (scikit-learn); a linear baseline.

    Sarfraz et al. (ICML 2024, "Quo vadis, unsupervised time series anomaly detection?") find
    this simple linear model on par with the deep detectors on SMD. Rows are standardised with
    the training head's mean and spread (floored at `scale_floor`, as the robust z), projected
    on the principal components that explain `variance` of the head, and the residual left
    outside that subspace is the evidence: a row that breaks the metrics' usual correlations
    has a large one even when every metric is within its own range. score = RMS of the
    residual. The residual of a fault on one metric spreads over every metric that the
    subspace links to it, so dim_scores are reconstruction-based contributions (Alcala & Qin,
    Automatica 2009): |residual_i| / sqrt(C_ii), C = I - P P^T the residual projector, for
    which a fault along one dimension ranks that dimension first. `variance` 0.95 is the usual
    default, not tuned.
    """

    name = "pca"

    def __init__(
        self,
        variance: float = 0.95,
        smooth: int = 5,
        scale_floor: float = 1e-2,
        seed: int = 0,
        calib_fraction: float = 0.2,
        thresholding: ThresholdSpec = None,
    ) -> None:
        if not 0 < variance < 1:
            raise SeriesInputError(f"{self.name}: variance: expected in (0, 1), got {variance}")
        self.variance, self.smooth, self.scale_floor, self.seed = (
            variance,
            smooth,
            scale_floor,
            seed,
        )
        super().__init__(calib_fraction, thresholding)
        self._pca: PCA | None = None
        self._mean: np.ndarray | None = None  # (D,)
        self._scale: np.ndarray | None = None  # (D,)
        self._contribution_scale: np.ndarray | None = None  # (D,) sqrt(C_ii), floored

    def _score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._pca is not None and self._mean is not None and self._scale is not None
        assert self._contribution_scale is not None
        z = (x - self._mean) / self._scale  # (T, D)
        residual = np.abs(z - self._pca.inverse_transform(self._pca.transform(z)))  # (T, D)
        smooth = trailing_mean(residual.astype(np.float32), self.smooth)  # (T, D)
        dim = smooth / self._contribution_scale  # (T, D)
        return np.sqrt(np.mean(smooth**2, axis=1)), dim  # (T,), (T, D)

    def _fit_head(self, head: np.ndarray) -> None:
        self._mean = head.mean(axis=0)
        self._scale = np.maximum(head.std(axis=0), self.scale_floor).astype(np.float32)
        self._pca = PCA(n_components=self.variance, svd_solver="full", random_state=self.seed).fit(
            (head - self._mean) / self._scale
        )
        kept = self._pca.components_  # (K, D), orthonormal rows
        residual_diag = 1.0 - np.sum(kept**2, axis=0)  # (D,) diagonal of I - P P^T
        # A dimension the subspace explains fully has no residual of its own to attribute.
        self._contribution_scale = np.sqrt(np.maximum(residual_diag, 1e-3)).astype(np.float32)


class PercentileRuleDetector:
    """The original PreGAN's rule: a point is faulty when any dimension exceeds its percentile.

    Percentiles (98th in the original) are taken per dimension over the training series, not
    the series being judged, which removes the original's circularity but keeps its rule.
    score = largest exceedance over the percentile in units of the dimension's training range.
    `thresholding=None` (default) flags score > 0, the original's rule; a thresholding config
    (as every other detector's, `Thresholder.from_spec`) instead calibrates the shared threshold
    on the held-out tail of train like the others.
    """

    name = "percentile"

    def __init__(
        self,
        percentile: float = 98.0,
        calib_fraction: float = 0.2,
        thresholding: ThresholdSpec = None,
    ) -> None:
        if not 0 < percentile < 100:
            raise SeriesInputError(f"percentile: expected in (0, 100), got {percentile}")
        self.percentile, self.calib_fraction = percentile, calib_fraction
        self.thresholder = None if thresholding is None else Thresholder.from_spec(thresholding)
        self._cut: np.ndarray | None = None
        self._range: np.ndarray | None = None

    def _dim(self, x: np.ndarray) -> np.ndarray:
        assert self._cut is not None and self._range is not None
        return (x - self._cut) / self._range  # (T, D)

    def fit(self, train: np.ndarray) -> None:
        x = check_series(train, what="train")
        head, tail = (
            (x, x) if self.thresholder is None else split_calibration(x, self.calib_fraction)
        )
        self._cut = np.percentile(head, self.percentile, axis=0).astype(np.float32)  # (D,)
        self._range = np.maximum(np.ptp(head, axis=0), 1e-6).astype(np.float32)  # (D,)
        if self.thresholder is not None:
            self.thresholder.calibrate(self._dim(tail).max(axis=1))

    def score(self, series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._cut is None or self._range is None:
            raise RuntimeError(f"{self.name}: call fit before score")
        x = check_series(series, self._cut.shape[0])
        dim = self._dim(x)  # (T, D)
        scores = dim.max(axis=1)
        flags = scores > 0 if self.thresholder is None else self.thresholder.flag(scores)
        return scores, flags, dim
