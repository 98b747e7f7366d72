"""An executed episode as arrays, and the original's percentile labelling of it.

The simulator produces an `EpisodeRecord`; `pregan.data.episodes` writes and reads it. It
lives here, at the bottom of the import graph, so the simulator never imports `data`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pregan.simulation.interfaces import DEFAULT_METRICS, FAULT_KINDS


@dataclass
class EpisodeRecord:
    """One simulated episode of T intervals on H hosts, C container slots and D metrics."""

    host_metrics: np.ndarray  # (T, H, D) float32, fractions of capacity
    placement: np.ndarray  # (T, C) int16
    fault_truth: np.ndarray  # (T, H, D) bool, metrics a fault drove that interval
    fault_class: np.ndarray  # (T, H) int8
    qos: np.ndarray  # (T, Q) float32
    host_profile: np.ndarray  # (H,) int8
    host_demand: np.ndarray  # (T, H) float32 scheduled CPU demand / capacity (>= 0)
    seed: int
    metrics: tuple[str, ...] = DEFAULT_METRICS  # names of the last axis of host_metrics

    @property
    def n_intervals(self) -> int:
        return int(self.host_metrics.shape[0])

    @property
    def n_hosts(self) -> int:
        return int(self.host_metrics.shape[1])


METRIC_FAULT_CLASS: dict[str, str] = {
    "cpu": "cpu_overload",
    "ram": "memory_leak",
    "swap": "memory_leak",
    "disk": "disk_contention",
    "disk_read": "disk_contention",
    "disk_write": "disk_contention",
    "cpu_iowait": "disk_contention",
    "net": "network_saturation",
    "net_in": "network_saturation",
    "net_out": "network_saturation",
    "cpu_softirq": "network_saturation",
}
"""The fault kind a metric's overload points to (the percentile rule's class, a threshold
detector's guess): the kind whose first-order effect the metric is."""


def percentile_labels(
    metrics: np.ndarray,
    names: Sequence[str],
    q: float = 98.0,
    dims: Sequence[str] = ("cpu", "ram", "disk"),
) -> tuple[np.ndarray, np.ndarray]:
    """The original PreGAN's circular labels of a (T, H, D) series whose last axis is
    `names`: (fault_truth (T, H, D) bool, fault_class (T, H) int8).

    The original had no fault injection: a host is faulty in any interval where one of its
    monitored columns exceeds that column's q-th percentile over the whole trace (per host),
    and the largest such value gives the class. Only the `dims` that are monitored count
    (the original used CPU, RAM and disk). Kept as a selectable mode for comparison; the
    project's default is injected ground truth.
    """
    names = list(names)
    if metrics.ndim != 3 or metrics.shape[-1] != len(names):
        raise ValueError(
            f"percentile_labels: metrics must be (T, H, {len(names)}), got {metrics.shape}"
        )
    unknown = [d for d in dims if d not in METRIC_FAULT_CLASS]
    if unknown:
        raise ValueError(
            f"percentile_labels: unknown dims {unknown}; known: {list(METRIC_FAULT_CLASS)}"
        )
    use = np.array([n in dims for n in names], dtype=bool)  # (D,)
    klass_of = np.array(
        [FAULT_KINDS.index(METRIC_FAULT_CLASS.get(n, "cpu_overload")) + 1 for n in names]
    )
    thresh = np.percentile(metrics, q, axis=0)  # (H, D)
    truth = (metrics > thresh[None]) & use  # (T, H, D)
    masked = np.where(truth, metrics, -np.inf)
    klass = np.where(truth.any(axis=-1), klass_of[masked.argmax(axis=-1)], 0).astype(np.int8)
    return truth, klass
