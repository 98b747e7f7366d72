"""Seeded fault schedules and what an active fault does to a host in one interval.

The whole episode's schedule is drawn up front (one vectorised draw per interval over all
hosts), so ground truth is exact, a fault-free run of the same seed differs only in the
faults, and a forked simulator never has to touch the fault RNG again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pregan.simulation.config import FaultsConfig
from pregan.simulation.interfaces import FAULT_KINDS, METRICS

CPU, LEAK, DISK, NET, CRASH = range(1, 6)  # class ids, FAULT_KINDS order

FAULT_SIGNATURE: dict[str, tuple[str, ...]] = {
    "cpu_overload": ("cpu",),
    "memory_leak": ("ram", "swap", "disk", "disk_read", "disk_write", "cpu_iowait"),
    "disk_contention": ("disk", "disk_read", "disk_write", "cpu_iowait"),
    "network_saturation": ("net", "net_in", "net_out", "cpu_softirq"),
    "node_crash": METRICS,
}
"""Every metric each fault kind can drive (its root-cause set), first- and second-order
(conf/faults/default.yaml gives the mechanisms and sources). The one home of this table:
the per-interval ground truth is the subset a fault actually moved by at least
`faults.effects.truth_min` (a leak drives swap, disk and iowait only once the host swaps)."""


def root_cause_table(metrics: tuple[str, ...] | list[str]) -> np.ndarray:
    """(K + 1, D) bool: row k marks the monitored metrics fault class k can drive."""
    table = np.zeros((len(FAULT_KINDS) + 1, len(metrics)), dtype=bool)
    for k, kind in enumerate(FAULT_KINDS, start=1):
        table[k] = [m in FAULT_SIGNATURE[kind] for m in metrics]
    return table


@dataclass(frozen=True)
class FaultSchedule:
    """Which fault each host has in each interval, and how hard it hits."""

    kind: np.ndarray  # (T, H) int8, 0 none, 1..5 FAULT_KINDS
    intensity: np.ndarray  # (T, H) float64
    progress: np.ndarray  # (T, H) float64, (age + 1) / duration of the active fault
    duration: np.ndarray  # (T, H) int64, intervals of the active fault (1 where none)

    def level(self, t: int) -> np.ndarray:
        """(H,) fraction of capacity each fault holds in interval t: a leak has grown to
        intensity x progress, a hog holds its intensity."""
        k, i = self.kind[t], self.intensity[t]
        return np.where(k == LEAK, i * self.progress[t], np.where(k > 0, i, 0.0))

    def growth(self, t: int) -> np.ndarray:
        """(H,) per-interval increase of the level: intensity / duration for a leak, else 0."""
        k = self.kind[t]
        return np.where(k == LEAK, self.intensity[t] / np.maximum(self.duration[t], 1), 0.0)

    def effects(self, t: int) -> FaultEffects:
        """The fault effects of interval t (the last interval's persist beyond the end)."""
        t = min(t, self.kind.shape[0] - 1)
        return fault_effects(self.kind[t], self.level(t))


@dataclass(frozen=True)
class FaultEffects:
    """Per-host fault load in one interval, (H,) each, as fractions of capacity."""

    cpu_hog: np.ndarray  # MIPS consumed by a hog
    leak: np.ndarray  # RAM held by a leaking process
    disk_hog: np.ndarray  # disk bandwidth consumed
    net_hog: np.ndarray  # network bandwidth consumed
    down: np.ndarray  # bool, host crashed


def fault_effects(kind: np.ndarray, level: np.ndarray) -> FaultEffects:
    """The per-host load of faults of class `kind` (H,) holding `level` (H,) of capacity.

    The one mapping from (class, level) to effects: the live schedule and a policy's
    estimate (`pregan.simulation.cosim.FaultEstimate`) both go through it.
    """
    return FaultEffects(
        cpu_hog=np.where(kind == CPU, level, 0.0),
        leak=np.where(kind == LEAK, level, 0.0),
        disk_hog=np.where(kind == DISK, level, 0.0),
        net_hog=np.where(kind == NET, level, 0.0),
        down=kind == CRASH,
    )


def draw_faults(
    cfg: FaultsConfig, n_hosts: int, n_intervals: int, rng: np.random.Generator
) -> FaultSchedule:
    """Draw a schedule: a free host starts a fault of kind k with probability rate_k.

    One fault at a time per host keeps the class label single-valued. Scripted faults are
    written over the drawn ones.
    """
    T, H = n_intervals, n_hosts
    kind = np.zeros((T, H), dtype=np.int8)
    intensity = np.zeros((T, H))
    progress = np.zeros((T, H))
    duration = np.ones((T, H), dtype=np.int64)
    if cfg.random and cfg.kinds:
        ids = np.array([FAULT_KINDS.index(k) + 1 for k in cfg.kinds], dtype=np.int8)
        rates = np.array([c.rate for c in cfg.kinds.values()])
        if rates.sum() > 1:
            rates = rates / rates.sum()
        cum = np.cumsum(rates)  # (K,)
        d_lo = np.array([c.duration.low for c in cfg.kinds.values()])
        d_hi = np.array([c.duration.high for c in cfg.kinds.values()])
        i_lo = np.array([c.intensity.low for c in cfg.kinds.values()])
        i_hi = np.array([c.intensity.high for c in cfg.kinds.values()])
        cur_k = np.zeros(H, dtype=np.int64)  # index into ids, valid while left > 0
        cur_i = np.zeros(H)
        cur_d = np.ones(H, dtype=np.int64)
        left = np.zeros(H, dtype=np.int64)
        for t in range(T):
            u, ud, ui = rng.random(H), rng.random(H), rng.random(H)
            pick = np.searchsorted(cum, u, side="right")  # (H,) K means no fault
            start = (left == 0) & (pick < len(ids))
            k = np.minimum(pick, len(ids) - 1)
            dur = np.floor(d_lo[k] + ud * (d_hi[k] - d_lo[k] + 1)).astype(np.int64)
            cur_k = np.where(start, k, cur_k)
            cur_d = np.where(start, np.maximum(dur, 1), cur_d)
            cur_i = np.where(start, i_lo[k] + ui * (i_hi[k] - i_lo[k]), cur_i)
            left = np.where(start, cur_d, left)
            on = left > 0
            kind[t] = np.where(on, ids[cur_k], 0)
            intensity[t] = np.where(on, cur_i, 0.0)
            progress[t] = np.where(on, (cur_d - left + 1) / cur_d, 0.0)
            duration[t] = np.where(on, cur_d, 1)
            left = np.maximum(left - 1, 0)
    for sf in cfg.scripted:
        end = min(sf.onset + sf.duration, T)
        if sf.onset >= end:
            continue
        span = np.arange(sf.onset, end)
        kind[span, sf.host] = FAULT_KINDS.index(sf.kind) + 1
        intensity[span, sf.host] = sf.intensity
        progress[span, sf.host] = (span - sf.onset + 1) / sf.duration
        duration[span, sf.host] = sf.duration
    return FaultSchedule(kind=kind, intensity=intensity, progress=progress, duration=duration)
