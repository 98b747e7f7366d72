"""The root-cause ranking implied by a baseline that watches CPU only.

PCFT, DFTM and ECLB select hosts by predicted CPU alone, so whenever they act they blame
CPU. We report that as their diagnosis: CPU ranked first, the other resources tied below.
Every non-crash fault has a single root-cause dimension, so HitRate/NDCG@100% and @150%
look at the top-ranked dimension only and the ties never matter; crash points are skipped by
the diagnosis metrics. The figures then say what a CPU-only view is worth on CPU, memory,
disk and network faults, which is the comparison PreGAN's paper draws. Reporting them absent
instead would hide that these methods misdiagnose every non-CPU fault.
"""

from __future__ import annotations

import numpy as np

from pregan.simulation.interfaces import RESOURCES


def cpu_first_dim_scores(n_hosts: int) -> np.ndarray:
    """(H, D) float32: 1 for CPU, 0 for every other resource."""
    scores = np.zeros((n_hosts, len(RESOURCES)), dtype=np.float32)
    scores[:, RESOURCES.index("cpu")] = 1.0
    return scores
