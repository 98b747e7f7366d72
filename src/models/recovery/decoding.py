"""Migration decisions as leave sets: which containers of flagged hosts leave, and where to.

Every classifier-driven method (evacuate, the planner, PreGAN's GAN) acts on the same kind of
decision: a set of containers on flagged hosts that leave, each sent by `spread` to the
least-loaded up, unflagged host with room for it (loads and free capacity updated as moves
are taken, `pregan.simulation.placement.relocate`). They differ only in how the leave set
is chosen: all of them (evacuate), the best co-simulated of a candidate set (planner), or
the generator's verdicts (PreGAN).

`DecisionPoint` gathers what such a decision needs from one observation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pregan.simulation.interfaces import Observation
from pregan.simulation.placement import (
    Capacity,
    capacity_matrix,
    demand_matrix,
    host_totals,
    least_loaded,
    relocate,
)

N_SLOT_FEATURES_BASE = 7
"""Per-slot generator features besides the host's fault embedding and its monitored metrics
(see `slot_features`)."""


@dataclass
class DecisionPoint:
    """One interval at which a method may migrate: the state it sees and where to score."""

    sim: Any  # a Cosimulation (`.cosimulate(candidates, horizon)`) to score on, or None
    embedding: np.ndarray  # (H, e) float32, zero rows for unflagged hosts
    flags: np.ndarray  # (H,) bool
    proposal: np.ndarray  # (C,) int, the scheduler's placement S
    demand: np.ndarray  # (C, 3) MIPS, RAM MB, disk MB of each slot's container
    capacity: Capacity  # free capacity and load under the proposal (copied per decoding)
    host_util: np.ndarray  # (H, D) float32 last monitored utilisation (zeros before any)
    movable: np.ndarray = field(init=False)  # (C,) bool: placed on a flagged host
    cache: dict[str, Any] = field(default_factory=dict)  # scores reused over epochs

    def __post_init__(self) -> None:
        prop = self.proposal
        self.movable = (prop >= 0) & self.flags[np.clip(prop, 0, None)]

    @property
    def load(self) -> np.ndarray:
        """(H,) float32 CPU load of each host under the proposal (observed, shifted)."""
        return self.capacity.load.astype(np.float32)


def decision_point(
    obs: Observation, proposal: np.ndarray, flags: np.ndarray, embedding: np.ndarray, sim: Any
) -> DecisionPoint:
    """Gather what a migration decision needs from an observation (and a Cosimulation)."""
    proposal = np.asarray(proposal, dtype=np.int64)
    demand = demand_matrix(obs)  # (C, 3)
    capacity = Capacity.under_proposal(obs, proposal)  # load: observed CPU, shifted
    # Room as the simulator admits a move: capacity minus the base demand placed (what a
    # fault holds is not subtracted; the load above steers moves away from it).
    placed = np.where(obs.active, proposal, -1)
    capacity.free = capacity_matrix(obs.spec) - host_totals(placed, demand, obs.spec.n_hosts)
    return DecisionPoint(
        sim=sim,
        embedding=np.asarray(embedding, dtype=np.float32),
        flags=np.asarray(flags, dtype=bool),
        proposal=proposal,
        demand=demand,
        capacity=capacity,
        host_util=(
            obs.host_metrics[-1].astype(np.float32)
            if obs.t > 0
            else np.zeros((obs.spec.n_hosts, obs.host_metrics.shape[-1]), np.float32)
        ),
    )


def spread(point: DecisionPoint, movers: np.ndarray) -> np.ndarray:
    """Move each container of `movers` (in order) to the least CPU-loaded up, unflagged host
    with room for it, updating loads as it goes; one with no such host stays put."""
    return relocate(
        point.proposal, movers, point.demand, point.capacity.copy(), least_loaded, point.flags
    )


def decode(
    point: DecisionPoint, leave_score: np.ndarray, with_targets: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """The placement a (C,) leave score enacts: the movable containers scoring above 0 leave,
    most confident first, each spread to the least-loaded healthy host with room.

    With `with_targets`, also (C,) the host each movable container would go to: the leavers'
    targets, and for the others where `spread` would send each next, after the leavers (the
    target a change of its verdict would enact); -1 where it has none. Both come from one
    pass, so the leavers' moves are exactly those of spreading them alone.
    """
    movable = np.flatnonzero(point.movable)  # (M,)
    score = leave_score[movable]
    leaves = movable[score > 0]
    leaves = leaves[np.argsort(-leave_score[leaves], kind="stable")]
    if not with_targets:
        return spread(point, leaves), None
    stays = movable[score <= 0]
    full = spread(point, np.concatenate([leaves, stays]))  # (C,)
    placement = point.proposal.copy()
    placement[leaves] = full[leaves]
    targets = np.where(point.movable & (full != point.proposal), full, -1)
    return placement, targets


def leave_sets(point: DecisionPoint, budget: int) -> list[np.ndarray]:
    """Candidate leave sets, at most `budget`, in priority order: everything movable (evacuate),
    each flagged host's containers, the heavier half (by MIPS) of each flagged host with two or
    more, then each container alone. "No move" is not among them (it is the proposal)."""
    movable = np.flatnonzero(point.movable)
    if movable.size == 0 or budget <= 0:
        return []
    hosts_of = point.proposal[movable]
    hosts = np.unique(hosts_of)
    sets = [movable]
    if hosts.size > 1:
        sets += [movable[hosts_of == h] for h in hosts]
    for h in hosts:
        on = movable[hosts_of == h]
        if on.size >= 2:
            heavy = on[np.argsort(-point.demand[on, 0], kind="stable")[: on.size // 2]]
            sets.append(np.sort(heavy))
    if movable.size > 1:
        sets += [movable[i : i + 1] for i in range(movable.size)]
    return sets[:budget]


def candidate_placements(point: DecisionPoint, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """(B, C) distinct placements [proposal, decoded leave sets...] and (B, C) bool leave sets;
    row 0 is the proposal (no move). Candidates that decode to the proposal or to an earlier
    row are dropped."""
    rows, leaves = [point.proposal], [np.zeros(point.proposal.shape[0], bool)]
    seen = {point.proposal.tobytes()}
    for movers in leave_sets(point, budget):
        cand = spread(point, movers)
        key = cand.tobytes()
        if key in seen:
            continue
        seen.add(key)
        rows.append(cand)
        leaves.append(cand != point.proposal)
    return np.stack(rows), np.stack(leaves)


def slot_features(point: DecisionPoint) -> np.ndarray:
    """(C, e + 7 + D) float32 generator input per slot: its host's fault embedding, CPU load,
    share of the slots and flag; the container's MIPS and RAM as shares of its host; the mean
    and lowest CPU load of the hosts it could go to (up, unflagged); its host's last monitored
    utilisation of each resource (how hard the fault hits). Zero rows for slots not on a
    flagged host (the generator never moves them)."""
    prop = np.clip(point.proposal, 0, None)
    cap = point.capacity
    load = cap.load  # (H,)
    n_slots = point.proposal.shape[0]
    count = host_totals(point.proposal, np.ones(n_slots), load.shape[0]) / n_slots  # (H,)
    allowed = cap.up & ~point.flags
    free_load = load[allowed] if allowed.any() else np.ones(1)
    capacity = cap.free + host_totals(point.proposal, point.demand, load.shape[0])  # (H, 3)
    feats = np.concatenate(
        [
            point.embedding[prop],  # (C, e)
            np.stack(
                [
                    load[prop],
                    count[prop],
                    point.flags[prop].astype(np.float64),
                    point.demand[:, 0] / capacity[prop, 0],
                    point.demand[:, 1] / capacity[prop, 1],
                    np.full(n_slots, free_load.mean()),
                    np.full(n_slots, free_load.min()),
                ],
                axis=1,
            ),  # (C, 7)
            point.host_util[prop],  # (C, D)
        ],
        axis=1,
    )
    return (feats * point.movable[:, None]).astype(np.float32)
