"""Placement arithmetic shared by the simulator and every recovery method.

A placement is an int array of host indices per container slot, -1 for an empty or unplaced
slot (batched: (B, C)). This module is the one home for turning per-slot values into per-host
totals; the simulator (bottom layer) and the models above it both import it.
"""

from __future__ import annotations

import numpy as np


def host_sum(values: np.ndarray, host: np.ndarray, n_hosts: int) -> np.ndarray:
    """Sum (B, C) values per host into (B, H); slots with host -1 are skipped."""
    B = host.shape[0]
    ok = host >= 0
    idx = (np.arange(B)[:, None] * n_hosts + host)[ok]
    return np.bincount(idx, weights=values[ok], minlength=B * n_hosts).reshape(B, n_hosts)


def host_sums(values: np.ndarray, host: np.ndarray, n_hosts: int) -> np.ndarray:
    """Sum K stacked (K, B, C) per-slot quantities per host into (K, B, H) in one pass
    (one bincount over K x B x H bins); slots with host -1 are skipped."""
    K, B = values.shape[0], host.shape[0]
    ok = host >= 0  # (B, C)
    idx = (np.arange(B)[:, None] * n_hosts + host)[ok]  # (P,)
    keys = (np.arange(K)[:, None] * (B * n_hosts) + idx[None, :]).ravel()  # (K * P,)
    sums = np.bincount(keys, weights=values[:, ok].ravel(), minlength=K * B * n_hosts)
    return sums.reshape(K, B, n_hosts)
