"""The original PreGAN's percentile labelling, kept as a selectable mode for comparison.

The original had no fault injection: it called a host faulty in any interval where one of
its monitored columns exceeded that column's 98th percentile over the whole trace, and
took the largest such value as the class. The label is computed from the very series a
detector reads (circular), which is why the project's default is injected ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pregan.simulation.interfaces import RESOURCES

# Class id a dimension's overload maps to: cpu -> cpu_overload, ram -> memory_leak, ...
DIM_CLASS = np.array([1, 2, 3, 4], dtype=np.int8)


def percentile_labels(
    metrics: np.ndarray, q: float = 98.0, dims: Sequence[str] = ("cpu", "ram", "disk")
) -> tuple[np.ndarray, np.ndarray]:
    """Label a (T, H, D) series: (fault_truth (T, H, D) bool, fault_class (T, H) int8).

    Thresholds are per host and dimension over the whole series (the original's columns);
    only `dims` are considered (the original used CPU, RAM and disk).
    """
    if metrics.ndim != 3 or metrics.shape[-1] != len(RESOURCES):
        raise ValueError(
            f"percentile_labels: metrics must be (T, H, {len(RESOURCES)}), got {metrics.shape}"
        )
    unknown = [d for d in dims if d not in RESOURCES]
    if unknown:
        raise ValueError(f"percentile_labels: unknown dims {unknown}; known: {list(RESOURCES)}")
    use = np.zeros(len(RESOURCES), dtype=bool)
    use[[RESOURCES.index(d) for d in dims]] = True
    thresh = np.percentile(metrics, q, axis=0)  # (H, D)
    truth = (metrics > thresh[None]) & use  # (T, H, D)
    masked = np.where(truth, metrics, -np.inf)
    klass = np.where(truth.any(axis=-1), DIM_CLASS[masked.argmax(axis=-1)], 0).astype(np.int8)
    return truth, klass
