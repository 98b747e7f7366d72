"""Streaming label-free thresholds: SPOT and DSPOT (Siffer et al., KDD 2017).

A static threshold fitted on the held-out tail of train (`pot_threshold`) cannot follow the
test stream: on SMD the test split drifts away from train, so a fixed cut either fires for
ever after a level change or misses everything. SPOT keeps Peaks-Over-Threshold running on
the unlabelled stream:

1. initialise: `t` = the `level` quantile of the calibration scores (held-out normal data),
   a generalised Pareto (GPD) tail fitted to the peaks above `t`, threshold `z` = the score
   exceeded with probability `risk`;
2. for each new score s: s > z is an alarm (not learned from); t < s <= z is a new peak, the
   GPD is refitted and z recomputed; s <= t changes nothing but the count of points seen.

Alarms never enter the tail, as in the paper, so a long anomaly cannot lift the threshold
above itself. The price, measured on stationary Gaussian, exponential and Student-t streams
(tests/models/test_streaming_threshold.py): the tail is then fitted on a sample truncated at
z, and the realised false-alarm rate settles near 2 x `risk`, not `risk`. Entering alarms
censored at z calibrates the rate (~1.2 x risk) but, on synthetic anomalies injected into the
held-out tail of SMD's train splits, lowered F1 and point-adjusted F1 (0.18 / 0.49 against
0.20 / 0.54), because long anomalies then raise their own threshold; the paper's rule stays.

DSPOT runs the same on s minus the mean of the last `depth` non-alarm scores, so a slow drift
of the whole score level is absorbed while a sudden jump still stands out.

DSPOT still never learns from alarms, so a benign regime change that makes the scores both
higher and noisier (a metric whose spread grows for good) keeps it firing for ever. With
`absorb` > 0 an alarm budget bounds that: while alarms already fill `absorb_share` of the last
`absorb` rows, a further exceedance is taken as the new normal, not an alarm: it enters the
local mean and, censored at z, the tail. The alarm rate in a lasting regime is then bounded by
`absorb_share` (the tail, censored, learns the new spread only slowly; uncensored entries let
it learn faster but lost 0.03 point-adjusted F1 on SMD's synthetic twins). An incident shorter
than `absorb_share` x `absorb` rows is flagged in full; a longer one for at least that long,
which point adjustment still counts as found.

The GPD is fitted by probability-weighted moments (Hosking & Wallis, Technometrics 1987), a
closed form, instead of the maximum likelihood of the paper: a refit per peak then costs one
sort of a few hundred values, so a 28k-row stream takes milliseconds. Only points above `t`
(a few per cent) enter the Python loop; the rest are handled by NumPy.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


class ThresholdConfigError(ValueError):
    """A streaming threshold got an invalid parameter or too little calibration data."""


MIN_PEAKS = 10
"""Fewer peaks than this give no usable shape estimate: the tail is taken as exponential."""


def gpd_pwm(peaks: np.ndarray) -> tuple[float, float]:
    """(gamma, sigma) of a GPD (location 0) by probability-weighted moments.

    Hosking's k = -gamma: k = a0 / (a0 - 2 a1) - 2, sigma = 2 a0 a1 / (a0 - 2 a1), with
    a0 = mean and a1 = mean of (1 - p_i) x_(i), p_i = (i - 0.35) / n. With too few or
    degenerate peaks it returns the exponential tail (gamma 0, sigma = mean).
    """
    x = np.sort(np.asarray(peaks, dtype=np.float64))
    n = x.size
    a0 = float(x.mean()) if n else 0.0
    if n < MIN_PEAKS or a0 <= 0:
        return 0.0, max(a0, 0.0)
    p = (np.arange(1, n + 1) - 0.35) / n
    a1 = float(np.mean((1 - p) * x))
    denom = a0 - 2 * a1
    if denom <= 0:
        return 0.0, a0
    gamma = -(a0 / denom - 2)
    sigma = 2 * a0 * a1 / denom
    return float(gamma), float(sigma)


def gpd_threshold(
    init: float, gamma: float, sigma: float, risk: float, n_seen: np.ndarray | int, n_peaks: int
) -> np.ndarray:
    """Score exceeded with probability `risk`, given the GPD tail above `init`; never below `init`.

    Vectorised over `n_seen` (the count of points seen so far), because the threshold drifts
    with it even between peaks. Clamping at `init` keeps the rule simple when few peaks arrive
    (risk * n > n_peaks would put z under t): every point above `init` is then an alarm.
    """
    n = np.asarray(n_seen, dtype=np.float64)
    if n_peaks == 0 or sigma <= 0:
        return np.full(n.shape, init)
    ratio = risk * n / n_peaks
    if abs(gamma) < 1e-6:
        z = init - sigma * np.log(ratio)
    else:
        z = init + sigma / gamma * (ratio ** (-gamma) - 1)
    return np.maximum(z, init)


def _check(risk: float, level: float, calib: np.ndarray) -> np.ndarray:
    if not 0 < level < 1:
        raise ThresholdConfigError(f"level: expected in (0, 1), got {level}")
    if not 0 < risk < 1 - level:
        raise ThresholdConfigError(f"risk: expected in (0, 1 - level={1 - level:g}), got {risk}")
    arr = np.asarray(calib, dtype=np.float64).ravel()
    if arr.size * (1 - level) < 1:
        raise ThresholdConfigError(
            f"calibration scores: {arr.size} points leave no peak above the {level} quantile; "
            "hold out more data or lower `level`"
        )
    if not np.isfinite(arr).all():
        raise ThresholdConfigError("calibration scores: contain NaN or infinite values")
    return arr


@dataclass
class StreamResult:
    """Flags (T,) and the threshold in force at each point (T,) of a scored stream."""

    flags: np.ndarray
    thresholds: np.ndarray


def spot(calib: np.ndarray, stream: np.ndarray, risk: float, level: float) -> StreamResult:
    """SPOT: POT initialised on `calib`, updated by the peaks of `stream` (see module doc)."""
    c = _check(risk, level, calib)
    s = np.asarray(stream, dtype=np.float64).ravel()
    init = float(np.quantile(c, level))
    peaks = list(c[c > init] - init)
    gamma, sigma = gpd_pwm(np.asarray(peaks))
    n_seen = c.size + np.arange(1, s.size + 1)  # (T,) points seen once s[i] arrives
    flags = np.zeros(s.size, dtype=bool)
    thresholds = np.empty(s.size)
    last = 0
    for i in np.flatnonzero(s > init):
        # between peaks the tail is fixed and only the count of points seen moves z
        thresholds[last : i + 1] = gpd_threshold(
            init, gamma, sigma, risk, n_seen[last : i + 1], len(peaks)
        )
        if s[i] > thresholds[i]:
            flags[i] = True
        else:
            peaks.append(s[i] - init)
            gamma, sigma = gpd_pwm(np.asarray(peaks))
        last = i + 1
    thresholds[last:] = gpd_threshold(init, gamma, sigma, risk, n_seen[last:], len(peaks))
    return StreamResult(flags, thresholds)


def dspot(
    calib: np.ndarray,
    stream: np.ndarray,
    risk: float,
    level: float,
    depth: int,
    absorb: int = 0,
    absorb_share: float = 0.6,
) -> StreamResult:
    """DSPOT: SPOT on the score minus the mean of the last `depth` non-alarm scores.

    `absorb` > 0 turns on the alarm budget of the module doc (at most `absorb_share` of the
    last `absorb` rows are alarms). `thresholds` are returned on the raw score scale (local
    mean + z), so that they can be drawn over the scores.
    """
    if depth < 1:
        raise ThresholdConfigError(f"depth: expected >= 1, got {depth}")
    if absorb < 0 or not 0 < absorb_share <= 1:
        raise ThresholdConfigError(
            f"absorb / absorb_share: expected >= 0 / in (0, 1], got {absorb} / {absorb_share}"
        )
    c = np.asarray(calib, dtype=np.float64).ravel()
    if c.size <= depth:
        raise ThresholdConfigError(f"calibration scores: {c.size} points <= depth {depth}")
    csum = np.concatenate([[0.0], np.cumsum(c)])
    local = (csum[depth:-1] - csum[: c.size - depth]) / depth  # mean of the previous `depth`
    resid = _check(risk, level, c[depth:] - local)
    init = float(np.quantile(resid, level))
    peaks = list(resid[resid > init] - init)
    n_seen = resid.size
    gamma, sigma = gpd_pwm(np.asarray(peaks))
    s = np.asarray(stream, dtype=np.float64).ravel()
    window = deque(c[-depth:].tolist(), maxlen=depth)
    total = float(sum(window))
    flags = np.zeros(s.size, dtype=bool)
    thresholds = np.empty(s.size)
    budget = absorb_share * absorb
    recent = deque([False] * absorb, maxlen=absorb)  # alarms among the last `absorb` rows
    n_recent = 0
    for i, value in enumerate(s.tolist()):
        mean = total / depth
        z = float(gpd_threshold(init, gamma, sigma, risk, n_seen + i + 1, len(peaks)))
        thresholds[i] = mean + z
        r = value - mean
        alarm = r > z and (absorb == 0 or n_recent < budget)
        if absorb:
            n_recent += int(alarm) - int(recent[0])
            recent.append(alarm)
        if alarm:
            flags[i] = True
            continue
        if r > init:
            peaks.append(min(r, z) - init)
            gamma, sigma = gpd_pwm(np.asarray(peaks))
        total += value - window[0]
        window.append(value)
    return StreamResult(flags, thresholds)
