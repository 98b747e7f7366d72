"""Label-free tuning twins of a labelled series: synthetic anomalies in its own train data.

A detector's thresholds, windows and risks must not be tuned on test labels. A twin gives a
labelled ground that needs none: train on the head of the case's train split, score its tail
with injected anomalies (`inject_anomalies`) and benign, unlabelled regime changes
(`inject_regime_changes`). `python pipelines/benchmark_detection.py synthetic=true` scores
the twins instead of the test splits.
"""

from __future__ import annotations

import numpy as np

from pregan.data.generic import LabelledSeries

ANOMALY_KINDS: tuple[str, ...] = ("level_shift", "spikes", "variance_burst")


def inject_anomalies(
    series: np.ndarray,
    rng: np.random.Generator,
    length: tuple[int, int] = (3, 1500),
    gap: tuple[int, int] = (200, 1500),
    max_dims: int = 8,
    magnitude: tuple[float, float] = (1.0, 8.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copy of `series` (T, D) with labelled synthetic anomalies: (series, labels, root cause).

    Segments of log-uniform length in `length` rows (minutes to a day of 1-minute data: SMD's
    labelled incidents run from a few rows to over a thousand, and a twin whose incidents
    stop at 300 rows cannot judge an alarm budget against long ones), separated by `gap` normal rows, each on 1..`max_dims` random
    dimensions, of one kind from ANOMALY_KINDS, sized log-uniformly in `magnitude` standard
    deviations of the dimension (floored at 0.01, SMD's scale is [0, 1]): a shift of the level,
    spikes on a fifth of the rows, or extra Gaussian noise.
    """
    x = np.array(series, dtype=np.float32, copy=True)
    t_len, d = x.shape
    sd = np.maximum(x.std(axis=0), 1e-2)  # (D,)
    labels = np.zeros(t_len, dtype=bool)
    cause = np.zeros((t_len, d), dtype=bool)
    t = int(rng.integers(*gap)) // 4
    while True:
        n = int(np.exp(rng.uniform(np.log(length[0]), np.log(length[1]))))
        if t + n >= t_len:
            break
        dims = rng.choice(d, int(rng.integers(1, min(max_dims, d) + 1)), replace=False)
        size = np.exp(rng.uniform(*np.log(magnitude))) * sd[dims]  # (m,)
        sign = rng.choice([-1.0, 1.0], dims.size)  # (m,)
        kind = ANOMALY_KINDS[int(rng.integers(len(ANOMALY_KINDS)))]
        rows = np.arange(t, t + n)
        if kind == "level_shift":
            x[np.ix_(rows, dims)] += sign * size
        elif kind == "spikes":
            hit = rng.choice(rows, max(1, n // 5), replace=False)
            x[np.ix_(hit, dims)] += sign * 2 * size
        else:
            x[np.ix_(rows, dims)] += rng.normal(0.0, 1.0, (n, dims.size)) * size
        labels[rows] = True
        cause[np.ix_(rows, dims)] = True
        t += n + int(rng.integers(*gap))
    return x, labels, cause


def inject_regime_changes(
    series: np.ndarray,
    rng: np.random.Generator,
    count: int = 1,
    max_dims: int = 8,
    magnitude: tuple[float, float] = (1.0, 4.0),
) -> np.ndarray:
    """Copy of `series` (T, D) with `count` benign, UNLABELLED regime changes.

    Real streams change regime without any fault: SMD's test splits move level and noise
    away from train (e.g. one dimension of machine-1-5 quadruples its spread for the last
    half of test, unlabelled). Each change starts at a uniform random row after the first
    tenth and lasts to the end, on 1..`max_dims` random dims: a persistent level shift or an
    added Gaussian noise, of log-uniform size in `magnitude` standard deviations (floored at
    0.01). A detector tuned on twins without them would be rewarded for firing for ever.
    """
    x = np.array(series, dtype=np.float32, copy=True)
    t_len, d = x.shape
    sd = np.maximum(x.std(axis=0), 1e-2)  # (D,)
    for _ in range(count):
        start = int(rng.integers(t_len // 10, t_len))
        dims = rng.choice(d, int(rng.integers(1, min(max_dims, d) + 1)), replace=False)
        size = np.exp(rng.uniform(*np.log(magnitude))) * sd[dims]  # (m,)
        if rng.random() < 0.5:
            x[start:, dims] += rng.choice([-1.0, 1.0], dims.size) * size
        else:
            x[start:, dims] += rng.normal(0.0, 1.0, (t_len - start, dims.size)) * size
    return x


def synthetic_case(
    case: LabelledSeries, seed: int, fraction: float = 0.2, regimes: int = 0
) -> LabelledSeries:
    """The case's label-free tuning twin: train on the head of train, test on its injected tail.

    `regimes` benign regime changes (`inject_regime_changes`, unlabelled) are added after the
    anomalies, from their own random stream, so the anomalies do not depend on `regimes`.
    """
    cut = int(round(case.train.shape[0] * (1 - fraction)))
    test, labels, cause = inject_anomalies(case.train[cut:], np.random.default_rng(seed))
    if regimes:
        test = inject_regime_changes(test, np.random.default_rng([seed, 1]), regimes)
    return LabelledSeries(
        name=f"{case.name}-synthetic",
        train=case.train[:cut],
        test=test,
        labels=labels,
        root_cause=cause,
        dim_names=case.dim_names,
        labels_derived=True,
    )


def synthetic_dataset(
    n_cases: int = 3,
    n_dims: int = 8,
    n_train: int = 4000,
    n_test: int = 2000,
    seed: int = 0,
) -> list[LabelledSeries]:
    """A seeded synthetic multivariate dataset: the benchmark's ground when no data is given.

    Each case is one made-up server of `n_dims` metrics in [0, 1]: a few latent daily-like
    cycles (periods of 60-1440 rows, 1-minute rows as in SMD) mixed into the metrics with
    random loadings, plus Gaussian noise, so that metrics are correlated as real ones are. Its
    test split continues the same process and carries labelled anomalies with root causes
    (`inject_anomalies`, incidents of 3-300 rows) and one benign, unlabelled regime change.
    Same seed, same dataset. It checks that the benchmark runs end to end; it is no substitute
    for real traces.
    """
    if n_cases < 1 or n_dims < 1 or n_train < 100 or n_test < 100:
        raise ValueError(
            f"synthetic_dataset: need n_cases, n_dims >= 1 and n_train, n_test >= 100, got "
            f"{n_cases}, {n_dims}, {n_train}, {n_test}"
        )
    cases = []
    for i in range(n_cases):
        rng = np.random.default_rng([seed, i])
        t = np.arange(n_train + n_test)[:, None]  # (T, 1)
        periods = rng.uniform(60, 1440, 3)  # (3,) rows
        phases = rng.uniform(0, 2 * np.pi, 3)
        latent = np.sin(2 * np.pi * t / periods + phases)  # (T, 3)
        loadings = rng.normal(0.0, 1.0, (3, n_dims)) / 3  # (3, D)
        base = rng.uniform(0.3, 0.7, n_dims)  # (D,)
        x = base + 0.2 * latent @ loadings + rng.normal(0.0, 0.02, (t.size, n_dims))  # (T, D)
        x = np.clip(x, 0.0, 1.0).astype(np.float32)
        test, labels, cause = inject_anomalies(
            x[n_train:], rng, length=(3, 300), gap=(100, 600), max_dims=max(1, n_dims // 3)
        )
        test = inject_regime_changes(test, rng, count=1, max_dims=max(1, n_dims // 4))
        cases.append(
            LabelledSeries(
                name=f"synthetic-{i + 1}",
                train=x[:n_train],
                test=test,
                labels=labels,
                root_cause=cause,
                dim_names=tuple(f"m{j + 1}" for j in range(n_dims)),
                labels_derived=True,
            )
        )
    return cases
