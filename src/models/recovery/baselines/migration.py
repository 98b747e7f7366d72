"""What every baseline shares once it has chosen hosts: containers to move and where to.

All four published baselines (PREGAN.md §4) and the oracle follow one pattern: pick source
hosts, pick containers on them, pick a feasible target for each, and override the scheduler's
proposal for those containers only. The pattern lives here once so that the baselines differ
only where the papers differ (which hosts, which containers, which target rule).

Feasibility is judged against the scheduler's proposal, not the last placement: the capacity
left on a host is what the observation reports free, plus what the proposal moves away from
it, minus what the proposal moves onto it. Anything the simulator withholds from
`host_free_*` beyond base demand (a fault's hog, a leak) therefore stays withheld.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pregan.simulation.interfaces import Observation


def _per_host(values: np.ndarray, hosts: np.ndarray, n_hosts: int) -> np.ndarray:
    """Sum per-container values (C,) by host (C,), ignoring -1; returns (H,) float64."""
    placed = hosts >= 0
    return np.bincount(hosts[placed], weights=values[placed], minlength=n_hosts)


def current_placement(obs: Observation) -> np.ndarray:
    """(C,) hosts whose demand `host_free_*` already accounts for; -1 for the unplaced."""
    placed = obs.active & ~obs.needs_placement & (obs.placement >= 0)
    return np.where(placed, obs.placement, -1)


@dataclass
class CapacityState:
    """Free capacity and CPU load of every host under the placement being built.

    Mutated by `move` as a decision assigns containers, so that two containers never fill
    the same spare capacity twice within one interval.
    """

    free_mips: np.ndarray  # (H,)
    free_ram_mb: np.ndarray  # (H,)
    free_disk_mb: np.ndarray  # (H,)
    load: np.ndarray  # (H,) CPU utilisation estimate, fraction of capacity
    ips: np.ndarray  # (H,) capacity in MIPS, to turn moved MIPS into load
    up: np.ndarray  # (H,) bool

    @classmethod
    def under_proposal(cls, obs: Observation, proposal: np.ndarray) -> CapacityState:
        """Capacity left on each host if the proposal were enacted as is.

        `load` starts from the last observed CPU utilisation (which includes whatever a fault
        burns) and is shifted by the proposal's changes in base demand.
        """
        n_hosts = obs.spec.n_hosts
        now = current_placement(obs)
        nxt = np.where(obs.active, proposal, -1)

        def delta(demand: np.ndarray) -> np.ndarray:
            return _per_host(demand, nxt, n_hosts) - _per_host(demand, now, n_hosts)

        mips_delta = delta(obs.container_mips)
        ips = np.asarray(obs.spec.host_ips, dtype=np.float64)
        observed = obs.host_metrics[-1, :, 0].astype(np.float64) if obs.t > 0 else np.zeros(n_hosts)
        return cls(
            free_mips=obs.host_free_mips.astype(np.float64) - mips_delta,
            free_ram_mb=obs.host_free_ram_mb.astype(np.float64) - delta(obs.container_ram_mb),
            free_disk_mb=obs.host_free_disk_mb.astype(np.float64) - delta(obs.container_disk_mb),
            load=observed + mips_delta / ips,
            ips=ips,
            up=obs.host_up.astype(bool).copy(),
        )

    def fits(self, mips: float, ram_mb: float, disk_mb: float) -> np.ndarray:
        """(H,) bool: up hosts whose free base MIPS, RAM and disk all hold the container."""
        return (
            self.up
            & (self.free_mips >= mips)
            & (self.free_ram_mb >= ram_mb)
            & (self.free_disk_mb >= disk_mb)
        )

    def move(self, src: int, dst: int, mips: float, ram_mb: float, disk_mb: float) -> None:
        """Account for one container moving from `src` (-1: unplaced) to `dst`."""
        if src >= 0:
            self.free_mips[src] += mips
            self.free_ram_mb[src] += ram_mb
            self.free_disk_mb[src] += disk_mb
            self.load[src] -= mips / self.ips[src]
        self.free_mips[dst] -= mips
        self.free_ram_mb[dst] -= ram_mb
        self.free_disk_mb[dst] -= disk_mb
        self.load[dst] += mips / self.ips[dst]


TargetRule = Callable[[int, np.ndarray, CapacityState], int]
"""(container, feasible (H,) bool, state) -> chosen host; only called with some feasible host."""


def least_loaded(container: int, feasible: np.ndarray, state: CapacityState) -> int:
    """The feasible host with the lowest CPU load (lowest index on ties)."""
    return int(np.argmin(np.where(feasible, state.load, np.inf)))


def first_fit(container: int, feasible: np.ndarray, state: CapacityState) -> int:
    """The lowest-indexed feasible host."""
    return int(np.argmax(feasible))


def mmt_containers(
    proposal: np.ndarray, active: np.ndarray, ram_mb: np.ndarray, hosts: np.ndarray
) -> np.ndarray:
    """Minimum-migration-time container of each host in `hosts`, in that order.

    Migration time grows with the RAM to copy, so the container with the smallest RAM on a
    host moves fastest (ties: lowest slot). Hosts with no container under the proposal are
    skipped. Returns (S',) container indices, S' <= len(hosts).
    """
    slots = np.flatnonzero(active & (proposal >= 0))  # (K,)
    if slots.size == 0 or hosts.size == 0:
        return np.empty(0, dtype=np.int64)
    ranked = slots[np.lexsort((slots, ram_mb[slots], proposal[slots]))]  # host, RAM, slot
    host_ids, first = np.unique(proposal[ranked], return_index=True)
    best = np.full(int(max(host_ids.max(), hosts.max())) + 1, -1, dtype=np.int64)
    best[host_ids] = ranked[first]
    chosen = best[hosts]
    return chosen[chosen >= 0]


def containers_on(proposal: np.ndarray, active: np.ndarray, hosts: np.ndarray) -> np.ndarray:
    """Every active container the proposal puts on one of `hosts`, smallest slot first."""
    on = active & (proposal >= 0)
    return np.flatnonzero(on & np.isin(proposal, hosts))


def relocate(
    obs: Observation,
    proposal: np.ndarray,
    containers: np.ndarray,
    excluded: np.ndarray,
    rule: TargetRule,
    state: CapacityState | None = None,
) -> np.ndarray:
    """Move each container (in order) to the host `rule` picks among feasible ones.

    `excluded` (H,) bool marks hosts that must not receive containers (the selected
    overloaded or faulty hosts). A container with no feasible host stays where the proposal
    put it. Returns a new (C,) placement; the proposal is not modified.
    """
    placement = proposal.copy()
    if containers.size == 0:
        return placement
    if state is None:
        state = CapacityState.under_proposal(obs, proposal)
    for c in containers.tolist():
        src = int(placement[c])
        mips = float(obs.container_mips[c])
        ram = float(obs.container_ram_mb[c])
        disk = float(obs.container_disk_mb[c])
        feasible = state.fits(mips, ram, disk) & ~excluded
        if src >= 0:
            feasible[src] = False
        if not feasible.any():
            continue
        dst = rule(c, feasible, state)
        state.move(src, dst, mips, ram, disk)
        placement[c] = dst
    return placement


def migrate_mmt(
    obs: Observation, proposal: np.ndarray, sources: np.ndarray, rule: TargetRule
) -> np.ndarray:
    """The baselines' common step: move each source host's MMT container by `rule`.

    `sources` (S,) are host indices in priority order; none of them may receive a container.
    Returns the new (C,) placement.
    """
    excluded = np.zeros(obs.spec.n_hosts, dtype=bool)
    excluded[sources] = True
    movers = mmt_containers(proposal, obs.active, obs.container_ram_mb, sources)
    return relocate(obs, proposal, movers, excluded, rule)
