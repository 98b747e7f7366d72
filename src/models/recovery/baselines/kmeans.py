"""Seeded k-means (k-means++ initialisation, Lloyd iterations) for a handful of points.

CMODLB clusters one prediction per host every interval. scikit-learn's KMeans spends
6-40 ms per call on thread-pool setup for 16 points on a busy 2-core machine, which would
make CMODLB's decision time a measure of scikit-learn's overhead; this NumPy version gives
the same clustering (tested against scikit-learn) in well under a millisecond.
"""

from __future__ import annotations

import numpy as np


def _squared_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)  # (N, k)


def _plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: each next centre drawn with probability proportional to d^2."""
    centres = [points[rng.integers(points.shape[0])]]
    for _ in range(1, k):
        d2 = _squared_distances(points, np.asarray(centres)).min(axis=1)  # (N,)
        total = d2.sum()
        idx = (
            rng.integers(points.shape[0])
            if total <= 0
            else rng.choice(points.shape[0], p=d2 / total)
        )
        centres.append(points[idx])
    return np.asarray(centres, dtype=np.float64)  # (k, F)


def kmeans(
    points: np.ndarray, k: int, n_init: int, rng: np.random.Generator, max_iter: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Best of `n_init` seeded runs by inertia: (labels (N,), centres (k, F))."""
    points = np.asarray(points, dtype=np.float64)  # (N, F)
    if points.ndim != 2 or points.shape[0] < k:
        raise ValueError(f"kmeans: need (N >= {k}, F) points, got shape {points.shape}")
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(n_init):
        centres = _plus_plus(points, k, rng)
        labels = np.full(points.shape[0], -1)
        for _ in range(max_iter):
            new_labels = _squared_distances(points, centres).argmin(axis=1)  # (N,)
            if np.array_equal(new_labels, labels):
                break
            labels = new_labels
            for j in range(k):
                members = points[labels == j]
                if len(members):  # an emptied cluster keeps its centre
                    centres[j] = members.mean(axis=0)
        inertia = float(_squared_distances(points, centres)[np.arange(len(labels)), labels].sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels, centres.copy())
    assert best is not None  # n_init >= 1
    return best[1], best[2]
