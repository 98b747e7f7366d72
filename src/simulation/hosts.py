"""Hosts as arrays: capacities, bandwidths and power curves, built from profiles and a mix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pregan.simulation.config import SimulationConfig
from pregan.simulation.interfaces import ClusterSpec

BITS_PER_BYTE = 8.0  # Mb/s -> MB/s


@dataclass(frozen=True)
class HostArrays:
    """Static per-host figures, (H,) each; every bandwidth in MB/s (NICs converted from Mb/s)."""

    profile: np.ndarray  # (H,) int8 index into profile_names
    profile_names: tuple[str, ...]
    ips: np.ndarray  # (H,) MIPS
    ram_mb: np.ndarray  # (H,)
    swap_mb: np.ndarray  # (H,)
    disk_mb: np.ndarray  # (H,)
    disk_read_mb_s: np.ndarray  # (H,) MB/s
    disk_write_mb_s: np.ndarray  # (H,) MB/s
    net_up: np.ndarray  # (H,) MB/s
    net_down: np.ndarray  # (H,) MB/s
    latency_s: np.ndarray  # (H,)
    power_w: np.ndarray  # (H, 11) watts at 0, 10, ..., 100 % CPU

    @property
    def n_hosts(self) -> int:
        return int(self.ips.shape[0])


def mix_counts(cfg: SimulationConfig) -> list[tuple[str, int]]:
    """Hosts per mix entry, in order: counts as given, fractions share the rest.

    Fractions are normalised and rounded by largest remainder, so 16 hosts at 0.5/0.5 give
    8 + 8, and any host count is split without losing or adding a host.
    """
    counted = sum(e.count for e in cfg.host_mix if e.count is not None)
    rest = cfg.n_hosts - counted
    fractions = np.array([e.fraction or 0.0 for e in cfg.host_mix])
    shares = np.zeros(len(cfg.host_mix), dtype=np.int64)
    if rest > 0 and fractions.sum() > 0:
        exact = rest * fractions / fractions.sum()
        shares = np.floor(exact).astype(np.int64)
        order = np.argsort(-(exact - shares), kind="stable")
        shares[order[: rest - shares.sum()]] += 1
    return [
        (e.profile, int(e.count) if e.count is not None else int(s))
        for e, s in zip(cfg.host_mix, shares, strict=True)
    ]


def build_hosts(cfg: SimulationConfig) -> HostArrays:
    names = tuple(cfg.profiles)
    idx = np.concatenate(
        [np.full(n, names.index(p), dtype=np.int8) for p, n in mix_counts(cfg)]
    )  # (H,)

    def col(fn) -> np.ndarray:
        return np.array([fn(cfg.profiles[n]) for n in names], dtype=np.float64)[idx]

    return HostArrays(
        profile=idx,
        profile_names=names,
        ips=col(lambda p: p.cpu_mips),
        ram_mb=col(lambda p: p.ram_mb),
        swap_mb=col(lambda p: p.swap_mb),
        disk_mb=col(lambda p: p.disk_mb),
        disk_read_mb_s=col(lambda p: p.disk_read_mb_per_s),
        disk_write_mb_s=col(lambda p: p.disk_write_mb_per_s),
        net_up=col(lambda p: p.net_up_mbit_per_s / BITS_PER_BYTE),
        net_down=col(lambda p: p.net_down_mbit_per_s / BITS_PER_BYTE),
        latency_s=col(lambda p: p.latency_s),
        power_w=np.array([cfg.profiles[n].power_w for n in names], dtype=np.float64)[idx],
    )


def cluster_spec(cfg: SimulationConfig, hosts: HostArrays) -> ClusterSpec:
    return ClusterSpec(
        n_hosts=hosts.n_hosts,
        n_slots=cfg.slots,
        host_profile=hosts.profile,
        profile_names=hosts.profile_names,
        host_ips=hosts.ips,
        host_ram_mb=hosts.ram_mb,
        host_disk_mb=hosts.disk_mb,
        interval_s=float(cfg.interval_s),
        metrics=tuple(cfg.metrics),
    )


def power_w(curves: np.ndarray, cpu_util: np.ndarray) -> np.ndarray:
    """Linear interpolation of (H, 11) power curves at (..., H) utilisations in [0, 1]."""
    x = np.clip(cpu_util, 0.0, 1.0) * 10.0  # (..., H)
    lo = np.minimum(np.floor(x).astype(np.int64), 9)
    frac = x - lo
    h = np.arange(curves.shape[0])
    p_lo = curves[h, lo]  # (..., H)
    p_hi = curves[h, lo + 1]
    return p_lo + frac * (p_hi - p_lo)
