"""Hand-built observations, so the baselines are tested without the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from pregan.simulation.interfaces import ClusterSpec, Observation


def make_spec(n_hosts: int = 4, n_slots: int | None = None) -> ClusterSpec:
    return ClusterSpec(
        n_hosts=n_hosts,
        n_slots=n_slots or 2 * n_hosts,
        host_profile=np.zeros(n_hosts, dtype=np.int64),
        profile_names=("rpi4b-4gb",),
        host_ips=np.full(n_hosts, 4000.0),
        host_ram_mb=np.full(n_hosts, 4000.0),
        host_disk_mb=np.full(n_hosts, 32000.0),
        interval_s=300.0,
        metrics=("cpu", "ram", "disk", "net"),  # the policies' tests use 4-metric histories
    )


def make_obs(
    cpu_history: np.ndarray,
    placement: np.ndarray,
    mips: np.ndarray,
    ram_mb: np.ndarray,
    host_up: np.ndarray | None = None,
    needs_placement: np.ndarray | None = None,
    other_history: np.ndarray | None = None,
) -> Observation:
    """An observation whose free capacities follow from the placement and demands.

    cpu_history (t, H) fills the CPU column; other_history (t, H, 3) the rest (zeros if None).
    """
    cpu_history = np.asarray(cpu_history, dtype=np.float32).reshape(-1, len(cpu_history[0]))
    t, n_hosts = cpu_history.shape
    spec = make_spec(n_hosts, len(placement))
    metrics = np.zeros((t, n_hosts, 4), dtype=np.float32)
    metrics[:, :, 0] = cpu_history
    if other_history is not None:
        metrics[:, :, 1:] = other_history
    placement = np.asarray(placement, dtype=np.int64)
    active = placement >= 0
    needs = np.zeros_like(active) if needs_placement is None else np.asarray(needs_placement)
    active = active | needs
    mips = np.where(active, mips, 0.0).astype(np.float64)
    ram = np.where(active, ram_mb, 0.0).astype(np.float64)
    disk = np.where(active, 2.0, 0.0)
    placed = active & ~needs & (placement >= 0)
    hosts = np.where(placed, placement, 0)

    def used(demand: np.ndarray) -> np.ndarray:
        return np.bincount(hosts, weights=np.where(placed, demand, 0.0), minlength=n_hosts)

    return Observation(
        t=t,
        spec=spec,
        host_metrics=metrics,
        host_up=np.ones(n_hosts, dtype=bool) if host_up is None else np.asarray(host_up),
        placement=np.where(needs, -1, placement),
        active=active,
        needs_placement=needs,
        container_mips=mips,
        container_ram_mb=ram,
        container_disk_mb=disk,
        host_free_mips=spec.host_ips - used(mips),
        host_free_ram_mb=spec.host_ram_mb - used(ram),
        host_free_disk_mb=spec.host_disk_mb - used(disk),
    )


def rising_overload(t: int = 10, n_hosts: int = 4) -> np.ndarray:
    """(t, H) CPU history: host 0 climbs from 60 % to 100 %, the others idle at 20-35 %."""
    history = np.tile(np.linspace(0.2, 0.35, n_hosts)[None, :], (t, 1))
    history[:, 0] = np.linspace(0.6, 1.0, t)
    return history


@pytest.fixture
def overload_obs() -> Observation:
    """Host 0 overloading with three containers (RAM 900, 300, 600 MB); one on each other."""
    placement = np.array([0, 0, 0, 1, 2, 3, -1, -1])
    mips = np.array([1200.0, 1000.0, 1100.0, 800.0, 900.0, 1000.0, 0.0, 0.0])
    ram = np.array([900.0, 300.0, 600.0, 500.0, 500.0, 500.0, 0.0, 0.0])
    return make_obs(rising_overload(), placement, mips, ram)


@pytest.fixture
def obs_factory():
    """`make_obs` as a fixture, so test modules need no import from this file."""
    return make_obs
