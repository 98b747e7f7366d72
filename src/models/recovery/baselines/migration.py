"""What every baseline shares once it has chosen hosts: containers to move and where to.

All four published baselines (PREGAN.md §4) and the oracle follow one pattern: pick source
hosts, pick containers on them, pick a feasible target for each, and override the scheduler's
proposal for those containers only. The pattern lives here once so that the baselines differ
only where the papers differ (which hosts, which containers, which target rule).

Feasibility is judged against the scheduler's proposal, not the last placement
(`pregan.simulation.placement.Capacity.under_proposal`); the greedy move itself and the
target rules live in `pregan.simulation.placement`, shared with every other method.
"""

from __future__ import annotations

import numpy as np

from pregan.simulation.interfaces import Observation
from pregan.simulation.placement import Capacity, TargetRule, demand_matrix, relocate


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


def move_off(
    obs: Observation,
    proposal: np.ndarray,
    containers: np.ndarray,
    excluded: np.ndarray,
    rule: TargetRule,
) -> np.ndarray:
    """Move each container (in order) to the host `rule` picks among the feasible ones under
    the proposal (`Capacity.under_proposal`), never onto an `excluded` (H,) host (the
    selected overloaded or faulty hosts). A container with no feasible host stays where the
    proposal put it. Returns a new (C,) placement; the proposal is not modified.
    """
    state = Capacity.under_proposal(obs, proposal)
    return relocate(proposal, containers, demand_matrix(obs), state, rule, excluded)


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
    return move_off(obs, proposal, movers, excluded, rule)
