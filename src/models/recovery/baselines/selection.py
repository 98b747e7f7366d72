"""Turning per-host predicted CPU into the hosts a CPU-threshold baseline acts on."""

from __future__ import annotations

import numpy as np


def threshold_hosts(
    predicted: np.ndarray, up: np.ndarray, threshold: float, scale: float = 1.0
) -> np.ndarray:
    """(H,) bool: up hosts whose scale x predicted utilisation reaches `threshold`."""
    return up & (scale * predicted >= threshold)


def by_priority(selected: np.ndarray, score: np.ndarray, limit: int | None = None) -> np.ndarray:
    """Indices of selected hosts, highest score first (lowest index on ties), at most `limit`."""
    hosts = np.flatnonzero(selected)
    hosts = hosts[np.argsort(-score[hosts], kind="stable")]
    return hosts if limit is None else hosts[:limit]
