"""Placement arithmetic shared by the simulator, the schedulers and every recovery method.

A placement is an int array of host indices per container slot, -1 for an empty or unplaced
slot (batched: (B, C)). This module is the one home for
- turning per-slot values into per-host totals (`host_sum`, `host_totals`);
- the free capacity of each host under a placement being built (`Capacity`);
- greedy placement: moving containers one at a time to the host a rule picks among those
  with room, updating the capacity as it goes (`relocate`). GOBI's rounding, PreGAN's
  decoding, `evacuate`, the planner's candidates, the oracle and the four published
  baselines all place through it and differ only in the rule and the order. The least-full
  scheduler is `relocate` with `most_free_mips` written over a batch of clusters (for the
  vector environment); tests/simulation/test_batch.py checks it against this one.
The simulator (bottom layer) and the models above it both import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pregan.simulation.interfaces import ClusterSpec, Observation


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


def host_totals(placement: np.ndarray, values: np.ndarray, n_hosts: int) -> np.ndarray:
    """Per-slot values (C,) or (C, R) summed per host of a (C,) placement: (H,) or (H, R)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        return host_sum(values[None], np.asarray(placement)[None], n_hosts)[0]
    cols = values.T  # (R, C): one batch row per resource
    hosts = np.broadcast_to(np.asarray(placement), cols.shape)
    return host_sum(cols, hosts, n_hosts).T  # (H, R)


def one_hot(placement: np.ndarray, n_hosts: int) -> np.ndarray:
    """(..., C) host indices (-1 = none) -> (..., C, H) float32 one-hot rows (zeros for -1)."""
    eye = np.eye(n_hosts + 1, dtype=np.float32)[:, :n_hosts]  # row -1 (= H) is all zeros
    return eye[np.asarray(placement)]


def demand_matrix(obs: Observation) -> np.ndarray:
    """(C, 3) float64 base demand of each slot: MIPS, RAM MB, disk MB (0 for empty slots)."""
    return np.stack(
        [obs.container_mips, obs.container_ram_mb, obs.container_disk_mb], axis=1
    ).astype(np.float64)


def capacity_matrix(spec: ClusterSpec) -> np.ndarray:
    """(H, 3) float64 capacity of each host: MIPS, RAM MB, disk MB (`demand_matrix` order)."""
    return np.stack([spec.host_ips, spec.host_ram_mb, spec.host_disk_mb], axis=1).astype(np.float64)


def current_placement(obs: Observation) -> np.ndarray:
    """(C,) hosts whose demand `host_free_*` already accounts for; -1 for the unplaced."""
    placed = obs.active & ~obs.needs_placement & (obs.placement >= 0)
    return np.where(placed, obs.placement, -1)


@dataclass
class Capacity:
    """Free capacity and CPU load of every host under the placement being built.

    Updated by `relocate` as a decision assigns containers, so that two containers never fill
    the same spare capacity twice within one decision.
    """

    free: np.ndarray  # (H, R) free MIPS, RAM MB, disk MB
    load: np.ndarray  # (H,) CPU utilisation estimate, fraction of capacity
    ips: np.ndarray  # (H,) capacity in MIPS, to turn moved MIPS into load
    up: np.ndarray  # (H,) bool

    @classmethod
    def under(
        cls, placement: np.ndarray, demand: np.ndarray, capacity: np.ndarray, up: np.ndarray
    ) -> Capacity:
        """Capacity left with `placement` enacted; load is the placed base MIPS / capacity."""
        used = host_totals(placement, demand, capacity.shape[0])  # (H, R)
        return cls(
            free=capacity - used,
            load=used[:, 0] / capacity[:, 0],
            ips=capacity[:, 0].astype(np.float64),
            up=np.asarray(up, dtype=bool).copy(),
        )

    @classmethod
    def under_proposal(cls, obs: Observation, proposal: np.ndarray) -> Capacity:
        """Capacity left on each host if the proposal were enacted as is, judged against the
        observation: what it reports free, plus what the proposal moves away, minus what it
        moves on. Anything the simulator withholds from `host_free_*` beyond base demand (a
        fault's hog, a leak) therefore stays withheld. `load` starts from the last observed
        CPU utilisation (which includes whatever a fault burns), shifted by the proposal's
        changes in base demand.
        """
        n_hosts = obs.spec.n_hosts
        demand = demand_matrix(obs)  # (C, 3)
        nxt = np.where(obs.active, proposal, -1)
        delta = host_totals(nxt, demand, n_hosts) - host_totals(
            current_placement(obs), demand, n_hosts
        )  # (H, 3)
        free = np.stack([obs.host_free_mips, obs.host_free_ram_mb, obs.host_free_disk_mb], 1)
        ips = np.asarray(obs.spec.host_ips, dtype=np.float64)
        observed = obs.host_metrics[-1, :, 0].astype(np.float64) if obs.t > 0 else np.zeros(n_hosts)
        return cls(
            free=free.astype(np.float64) - delta,
            load=observed + delta[:, 0] / ips,
            ips=ips,
            up=np.asarray(obs.host_up, dtype=bool).copy(),
        )

    def copy(self) -> Capacity:
        return Capacity(self.free.copy(), self.load.copy(), self.ips, self.up.copy())


TargetRule = Callable[[int, np.ndarray, Capacity], int]
"""(container, feasible (H,) bool, state) -> chosen host, or -1 to stay; only called with
some feasible host."""


def least_loaded(container: int, feasible: np.ndarray, state: Capacity) -> int:
    """The feasible host with the lowest CPU load (lowest index on ties)."""
    return int(np.argmin(np.where(feasible, state.load, np.inf)))


def first_fit(container: int, feasible: np.ndarray, state: Capacity) -> int:
    """The lowest-indexed feasible host."""
    return int(np.argmax(feasible))


def most_free_mips(container: int, feasible: np.ndarray, state: Capacity) -> int:
    """The feasible host with the most free MIPS (the least-full scheduler's rule)."""
    return int(np.argmax(np.where(feasible, state.free[:, 0], -np.inf)))


def best_scored(scores: np.ndarray, floor: np.ndarray | None = None) -> TargetRule:
    """A rule reading a (C, H) score matrix: the feasible host its container scores highest;
    with a (C,) `floor`, only hosts scoring above the container's floor (else it stays)."""

    def rule(container: int, feasible: np.ndarray, state: Capacity) -> int:
        row = np.where(feasible, scores[container], -np.inf)  # (H,)
        if floor is not None:
            row = np.where(row > floor[container], row, -np.inf)
        h = int(np.argmax(row))
        return h if np.isfinite(row[h]) else -1

    return rule


def relocate(
    placement: np.ndarray,
    movers: np.ndarray,
    demand: np.ndarray,
    state: Capacity,
    rule: TargetRule,
    excluded: np.ndarray | None = None,
) -> np.ndarray:
    """Move each container of `movers` (in order) to the host `rule` picks among the up,
    non-excluded hosts other than its own with room for its (R,) demand, updating `state`.

    A container with no feasible host (or whose rule answers -1) stays. Returns a new (C,)
    placement; `placement` is not modified, `state` is.
    """
    out = np.array(placement, dtype=np.int64, copy=True)
    allowed = state.up if excluded is None else state.up & ~excluded  # (H,)
    free, load, ips = state.free, state.load, state.ips
    by_load = rule is least_loaded  # the commonest rule, inlined: no call per container
    for c in np.asarray(movers, dtype=np.int64).tolist():
        src = int(out[c])
        d = demand[c]  # (R,)
        feasible = allowed & (free >= d).all(axis=1)  # (H,)
        if src >= 0:
            feasible[src] = False
        if by_load:
            key = np.where(feasible, load, np.inf)  # (H,)
            dst = int(key.argmin())
            if key[dst] == np.inf:
                continue
        else:
            if not feasible.any():
                continue
            dst = rule(c, feasible, state)
            if dst < 0:
                continue
        if src >= 0:  # account for the move in the state
            free[src] += d
            load[src] -= d[0] / ips[src]
        free[dst] -= d
        load[dst] += d[0] / ips[dst]
        out[c] = dst
    return out
