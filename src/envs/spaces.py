"""Observation and action encoding of the edge-recovery environment, as pure functions.

The environment, the vector environment and the PPO method's test-time policy all turn a
simulator `Observation` plus the scheduler's proposal into the same dict of arrays and an
action back into a placement through these functions, so training and serving see one
encoding (train/serve parity by construction).

Observation (`observation_space(spec, window)`), H hosts, C slots, D metrics, W window:

| key | shape | dtype | bounds | meaning |
|---|---|---|---|---|
| metrics | (W, H, D) | float32 | [0, 1] | last W monitored intervals, zeros before the first |
| host_up | (H,) | int8 | {0, 1} | heartbeat: 0 while a host is crashed |
| host_free | (H, 3) | float32 | [-1, 1] | free MIPS, RAM, disk over the host's capacity |
| placement | (C,) | int64 | [-1, H-1] | current host of each slot, -1 none |
| proposal | (C,) | int64 | [-1, H-1] | the scheduler's placement for this interval |
| slot_demand | (C, 3) | float32 | [0, 1] | base MIPS, RAM, disk over the largest host's |
| slot_host_metrics | (C, D) | float32 | [0, 1] | last monitored metrics of each slot's host, zeros if none |
| time | (1,) | float32 | [0, 1] | t / n_intervals |
| action_mask | (C, H+1) | int8 | {0, 1} | 1 where the action is allowed |

Action (`action_space(spec)`): `MultiDiscrete([H + 1] * C)`. For slot c, 0 keeps the
scheduler's proposal (for a placed container: stay), h + 1 requests host h. The mask allows
h + 1 only for an active slot, an up host other than the slot's current host and its
proposal, with room for the container's base MIPS, RAM and disk in the free capacity the
interval starts with. A masked action taken anyway is handed to the engine, which enacts
only moves that fit (the container then stays), exactly as for any study method.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from pregan.simulation.batch import ClusterView
from pregan.simulation.interfaces import ClusterSpec, Observation

N_RESOURCES = 3  # MIPS, RAM, disk: what placement feasibility checks


class InexpressiblePlacementError(ValueError):
    """A placement the action encoding cannot express; names the slot."""


def observation_space(spec: ClusterSpec, window: int) -> spaces.Dict:
    """The Dict observation space of a cluster (see the module docstring for the keys)."""
    H, C, D = spec.n_hosts, spec.n_slots, len(spec.metrics)
    return spaces.Dict(
        {
            "metrics": spaces.Box(0.0, 1.0, (window, H, D), np.float32),
            "host_up": spaces.MultiBinary(H),
            "host_free": spaces.Box(-1.0, 1.0, (H, N_RESOURCES), np.float32),
            "placement": spaces.Box(-1, H - 1, (C,), np.int64),
            "proposal": spaces.Box(-1, H - 1, (C,), np.int64),
            "slot_demand": spaces.Box(0.0, 1.0, (C, N_RESOURCES), np.float32),
            "slot_host_metrics": spaces.Box(0.0, 1.0, (C, D), np.float32),
            "time": spaces.Box(0.0, 1.0, (1,), np.float32),
            "action_mask": spaces.MultiBinary((C, H + 1)),
        }
    )


def action_space(spec: ClusterSpec) -> spaces.MultiDiscrete:
    """One choice per slot: 0 keep the proposal, h + 1 request host h."""
    return spaces.MultiDiscrete(np.full(spec.n_slots, spec.n_hosts + 1, dtype=np.int64))


def _capacity(spec: ClusterSpec) -> np.ndarray:
    """(H, 3) MIPS, RAM MB, disk MB of each host."""
    return np.stack([spec.host_ips, spec.host_ram_mb, spec.host_disk_mb], axis=-1).astype(
        np.float64
    )


def action_mask(view: ClusterView, proposal: np.ndarray) -> np.ndarray:
    """(B, C, H + 1) int8: 1 where a slot's action is allowed (column 0, keep, always is),
    for B clusters and their (B, C) proposals."""
    B, H = view.host_up.shape
    free = np.stack([view.host_free_mips, view.host_free_ram_mb, view.host_free_disk_mb], -1)
    need = np.stack([view.container_mips, view.container_ram_mb, view.container_disk_mb], -1)
    fits = np.ones((B, need.shape[1], H), dtype=bool)  # (B, C, H), one resource at a time
    for r in range(N_RESOURCES):
        fits &= free[:, None, :, r] >= need[:, :, None, r]
    hosts = np.arange(H)[None, None, :]
    ok = (
        fits
        & view.active[:, :, None]
        & view.host_up[:, None, :]
        & (hosts != view.placement[:, :, None])
        & (hosts != np.asarray(proposal)[:, :, None])
    )  # (B, C, H)
    mask = np.ones((B, view.active.shape[1], H + 1), dtype=np.int8)
    mask[:, :, 1:] = ok
    return mask


def metrics_window(history: np.ndarray, window: int) -> np.ndarray:
    """(W, H, D) float32: the last `window` rows of a (t, H, D) history, zeros before it."""
    out = np.zeros((window, *history.shape[1:]), dtype=np.float32)
    n = min(window, history.shape[0])
    if n:
        out[window - n :] = history[history.shape[0] - n :]
    return out


def slot_host_metrics(metrics: np.ndarray, placement: np.ndarray) -> np.ndarray:
    """(B, C, D) float32: the last monitored row of each slot's host (zeros for a slot on
    no host), from (B, W, H, D) windows and (B, C) placements. What a detector watching the
    hosts would flag, put beside the slot whose action it concerns."""
    last = metrics[:, -1]  # (B, H, D)
    rows = np.arange(placement.shape[0])[:, None]
    on = placement >= 0
    return np.where(on[..., None], last[rows, np.maximum(placement, 0)], 0.0).astype(np.float32)


def encode_batch(
    view: ClusterView,
    proposal: np.ndarray,
    metrics: np.ndarray,
    t: int,
    n_intervals: int,
    spec: ClusterSpec,
) -> dict[str, np.ndarray]:
    """The Dict observations of B clusters at interval t, (B, ...) each, given their (B, C)
    proposals and (B, W, H, D) metric windows."""
    cap = _capacity(spec)  # (H, 3)
    free = np.stack([view.host_free_mips, view.host_free_ram_mb, view.host_free_disk_mb], -1)
    need = np.stack([view.container_mips, view.container_ram_mb, view.container_disk_mb], -1)
    B = free.shape[0]
    return {
        "metrics": metrics,
        "host_up": view.host_up.astype(np.int8),
        "host_free": np.clip(free / cap, -1.0, 1.0).astype(np.float32),
        "placement": view.placement.astype(np.int64),
        "proposal": np.asarray(proposal, dtype=np.int64).copy(),
        "slot_demand": np.clip(need / cap.max(axis=0), 0.0, 1.0).astype(np.float32),
        "slot_host_metrics": slot_host_metrics(metrics, view.placement),
        "time": np.full((B, 1), min(t / n_intervals, 1.0), dtype=np.float32),
        "action_mask": action_mask(view, proposal),
    }


def encode_observation(
    obs: Observation, proposal: np.ndarray, window: int, n_intervals: int
) -> dict[str, np.ndarray]:
    """The Dict observation of interval obs.t given the scheduler's (C,) proposal."""
    window_metrics = metrics_window(obs.host_metrics, window)[None]  # (1, W, H, D)
    batch = encode_batch(
        ClusterView.of(obs),
        np.asarray(proposal)[None],
        window_metrics,
        obs.t,
        n_intervals,
        obs.spec,
    )
    return {k: v[0] for k, v in batch.items()}


def decode_action(action: np.ndarray, proposal: np.ndarray) -> np.ndarray:
    """(C,) int64 placement requested by a (C,) action: 0 keeps the proposal, h + 1 is h."""
    action = np.asarray(action, dtype=np.int64)
    return np.where(action == 0, np.asarray(proposal, dtype=np.int64), action - 1)


def encode_placement(placement: np.ndarray, proposal: np.ndarray, obs: Observation) -> np.ndarray:
    """The (C,) action whose decoded placement the engine enacts exactly as `placement`.

    -1 for a placed container means "stay" to the engine, so it becomes its current host;
    a policy that leaves unplaced a new container the scheduler did place cannot be
    expressed (no method of the study does that) and raises.
    """
    placement = np.asarray(placement, dtype=np.int64)
    proposal = np.asarray(proposal, dtype=np.int64)
    target = np.where(placement < 0, obs.placement, placement)  # (C,) -1 -> stay
    same = ~obs.active | (placement == proposal) | (target == proposal)
    bad = ~same & (target < 0)
    if bad.any():
        c = int(np.flatnonzero(bad)[0])
        raise InexpressiblePlacementError(
            f"slot {c}: placement -1 for an unplaced container the scheduler put on host "
            f"{int(proposal[c])}; the action space cannot leave it waiting"
        )
    return np.where(same, 0, target + 1)
