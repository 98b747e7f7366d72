"""The episode's container arrivals, drawn up front as one stream of arrays.

Containers are admitted into free slots in arrival order, so the queue is just the range
of the stream between "admitted" and "arrived": no queue object to copy when forking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pregan.simulation.config import SimulationConfig
from pregan.simulation.workload_bank import WorkloadBank


@dataclass(frozen=True)
class ArrivalStream:
    """A containers in arrival order."""

    arrived_by: np.ndarray  # (T + 1,) [t] = containers created before interval t
    creation: np.ndarray  # (A,) int64 interval of arrival
    trace: np.ndarray  # (A,) int64 row of the workload bank it replays
    deadline_s: np.ndarray  # (A,) absolute SLA deadline, seconds
    work_mi: np.ndarray  # (A,) total work, million instructions
    disk_mb: np.ndarray  # (A,) disk size
    image_mb: np.ndarray  # (A,) container image size, MB (moved with it on migration)

    @property
    def n_total(self) -> int:
        return int(self.creation.shape[0])


def arrival_rate(cfg: SimulationConfig, bank: WorkloadBank, host_mips: np.ndarray) -> float:
    """Mean arrivals per interval that offer `cfg.load` of the cluster's capacity.

    Capacity is the tighter of two throughputs: the C slots, each freed after a container's
    fastest service time (its work at the highest speed it can reach alone on a host: its
    base demand times the least of burst_factor, its provisioned maximum and the mean host's
    MIPS over its demand), and the hosts' MIPS (`host_mips` (H,)), which must supply every
    container's work (the bank's mean base MIPS over work_sla_factor x the mean SLA
    intervals). At load < 1 neither is oversubscribed on average and the queue stays bounded.
    """
    base_service = cfg.work_sla_factor * cfg.sla_intervals.mean  # intervals at base demand
    mips = np.maximum(bank.cpu_mips.mean(axis=1).astype(np.float64), 1e-9)  # (N,) per trace
    speed = np.minimum.reduce(
        [np.full_like(mips, cfg.burst_factor), bank.cpu_max_mips / mips, host_mips.mean() / mips]
    )  # (N,) fastest speed-up over base demand
    per_slot = cfg.slots / float(np.mean(base_service / np.maximum(speed, 1.0)))
    per_mips = float(host_mips.sum()) / (float(mips.mean()) * base_service)
    return float(cfg.load) * min(per_slot, per_mips)


def arrivals_per_interval(
    cfg: SimulationConfig, bank: WorkloadBank, host_mips: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(T,) counts: Poisson at `arrival_rate` when `cfg.load` is set, else the original's
    draws: per interval floor(s) + Bernoulli(frac s) draws of max(1, int(N(1, 1.5))), which
    with s = n_hosts / 16 is the original's process at 16 hosts and scales with host count.
    """
    T = cfg.n_intervals
    if cfg.load is not None:
        return rng.poisson(arrival_rate(cfg, bank, host_mips), T).astype(np.int64)
    s = cfg.scale
    draws = np.floor(s).astype(np.int64) + (rng.random(T) < s - np.floor(s))  # (T,)
    sizes = np.maximum(
        1, rng.normal(cfg.arrivals.mean, cfg.arrivals.std, draws.sum()).astype(np.int64)
    )
    owner = np.repeat(np.arange(T), draws)
    return np.bincount(owner, weights=sizes, minlength=T).astype(np.int64)


def draw_arrivals(
    cfg: SimulationConfig, bank: WorkloadBank, host_mips: np.ndarray, rng: np.random.Generator
) -> ArrivalStream:
    counts = arrivals_per_interval(cfg, bank, host_mips, rng)  # (T,)
    A = int(counts.sum())
    creation = np.repeat(np.arange(cfg.n_intervals), counts)  # (A,)
    trace = rng.integers(0, bank.n_traces, A)
    sla = np.maximum(1.0, rng.normal(cfg.sla_intervals.mean, cfg.sla_intervals.std, A))  # intervals
    disk_mb = rng.choice(np.asarray(cfg.container_disk_mb, dtype=np.float64), A)
    image_mb = rng.choice(np.asarray(cfg.container_image_mb, dtype=np.float64), A)
    # Work = demand summed over int(1.2 x SLA) samples (wrapping past the trace end) x interval.
    n_samples = np.maximum(1, (cfg.work_sla_factor * sla).astype(np.int64))  # (A,)
    j = np.arange(int(n_samples.max(initial=1)))  # (S,)
    demand = bank.cpu_mips[trace[:, None], j[None, :] % bank.length]  # (A, S)
    work = np.where(j[None, :] < n_samples[:, None], demand, 0.0).sum(axis=1) * cfg.interval_s
    return ArrivalStream(
        arrived_by=np.concatenate([[0], np.cumsum(counts)]),
        creation=creation,
        trace=trace,
        deadline_s=(creation + sla) * cfg.interval_s,
        work_mi=np.maximum(work, 1.0),
        disk_mb=disk_mb,
        image_mb=image_mb,
    )
