"""The root-cause ranking implied by a baseline that watches CPU only.

PCFT, DFTM and ECLB select hosts by predicted CPU alone, so whenever they act they blame
CPU. We report that as their diagnosis: CPU ranked first, the other resources tied below.
Ties below CPU rank in index order; crash points are skipped by the diagnosis metrics. The figures then say what a CPU-only view is worth on CPU, memory,
disk and network faults, which is the comparison PreGAN's paper draws. Reporting them absent
instead would hide that these methods misdiagnose every non-CPU fault.
"""

from __future__ import annotations

import numpy as np


def cpu_first_dim_scores(n_hosts: int, n_metrics: int) -> np.ndarray:
    """(H, D) float32: 1 for CPU (always metric 0), 0 for every other metric."""
    scores = np.zeros((n_hosts, n_metrics), dtype=np.float32)
    scores[:, 0] = 1.0
    return scores
