"""Co-simulation from what a policy knows: the observed state plus the faults it estimated.

A policy scores B candidate placements by running them forward from the cluster's current
container state, with the faults it believes are present (per host: a class and a level,
and how fast the level grows), never with the simulator's hidden fault schedule: an onset
the metrics cannot show yet, or when a fault will end, is not known to anyone but the
oracle. The faults evolve over the horizon as they do live: a leak keeps growing at its
estimated rate, a hog keeps its level, a crashed host stays down.

    view = sim.cosimulator(estimate)        # a snapshot; later live steps do not change it
    res = view.cosimulate(candidates, 3)    # (B, C) -> CosimResult of (B,) arrays

`estimate_faults(obs, kind)` turns a detector's per-host classes into an estimate using the
observation alone (levels read off the last monitored interval). The oracle and the
offline training of learned policies on training seeds may use `Simulator.true_faults()`,
the schedule's state at the current interval in the same form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pregan.simulation import engine
from pregan.simulation.faults import CPU, CRASH, DISK, LEAK, NET, FaultEffects, fault_effects
from pregan.simulation.interfaces import FAULT_KINDS, ClusterSpec, Observation
from pregan.simulation.state import SlotState


class FaultEstimateError(ValueError):
    """A fault estimate has the wrong shape or values; the message names the field."""


@dataclass(frozen=True)
class FaultEstimate:
    """What a policy believes each host suffers at the interval about to run, (H,) each."""

    kind: np.ndarray  # (H,) int64 class 0..5 (0 none, FAULT_KINDS order)
    level: np.ndarray  # (H,) float64 fraction of capacity the fault holds now (leak: of RAM)
    growth: np.ndarray  # (H,) float64 per-interval increase of the level (a leak), else 0

    @classmethod
    def none(cls, n_hosts: int) -> FaultEstimate:
        """No fault anywhere: the healthy-cluster baseline of a co-simulation."""
        return cls(np.zeros(n_hosts, np.int64), np.zeros(n_hosts), np.zeros(n_hosts))

    def check(self, n_hosts: int) -> None:
        for name in ("kind", "level", "growth"):
            arr = np.asarray(getattr(self, name))
            if arr.shape != (n_hosts,):
                raise FaultEstimateError(
                    f"FaultEstimate.{name} must have shape ({n_hosts},), got {arr.shape}"
                )
            if not np.isfinite(arr).all():
                raise FaultEstimateError(f"FaultEstimate.{name} has NaN or infinite values")
        kind = np.asarray(self.kind)
        if kind.min(initial=0) < 0 or kind.max(initial=0) > len(FAULT_KINDS):
            raise FaultEstimateError(
                f"FaultEstimate.kind must lie in 0..{len(FAULT_KINDS)}, "
                f"got {kind.min()}..{kind.max()}"
            )
        if (np.asarray(self.level) < 0).any():
            raise FaultEstimateError("FaultEstimate.level must be >= 0")

    def effects(self, ahead: int, down_now: np.ndarray) -> FaultEffects:
        """Effects `ahead` intervals after the current one; hosts down now stay down."""
        level = np.asarray(self.level) + ahead * np.asarray(self.growth)
        fx = fault_effects(np.asarray(self.kind), np.clip(level, 0.0, None))
        return FaultEffects(fx.cpu_hog, fx.leak, fx.disk_hog, fx.net_hog, fx.down | down_now)


@dataclass(frozen=True)
class CosimResult:
    """Scores of B candidate placements over a co-simulated horizon, (B,) each."""

    energy_j: np.ndarray  # total energy over the horizon
    mean_response_s: np.ndarray  # finished containers' response, unfinished ones projected
    sla_violations: np.ndarray  # containers finished late within the horizon
    migrations: np.ndarray  # moves enacted over the horizon


class Cosimulation:
    """A frozen snapshot of the cluster's container state with an estimate of its faults.

    Holds no reference to the simulator, its fault schedule or its arrivals, so what it
    computes cannot depend on a future the policy has not observed.
    """

    def __init__(
        self,
        ctx: engine.EngineContext,
        spec: ClusterSpec,
        state: SlotState,
        t: int,
        host_up: np.ndarray,
        estimate: FaultEstimate,
    ) -> None:
        estimate.check(spec.n_hosts)
        self._ctx, self.spec, self._state, self.t = ctx, spec, state.copy(), int(t)
        self._down_now = ~np.asarray(host_up, dtype=bool)
        self.estimate = estimate

    def cosimulate(self, candidates: np.ndarray, horizon: int = 1) -> CosimResult:
        """Score B candidate placements (B, C) over `horizon` intervals in one batched call.

        Each candidate is requested every interval of the horizon; nothing new arrives.
        Containers still running at the end count with their elapsed time plus a projected
        finish at their last rate (or at base demand if unplaced), so every candidate gets a
        finite response figure that reflects where it put them.
        """
        if horizon < 1:
            raise ValueError(f"cosimulate: horizon must be >= 1, got {horizon}")
        cand = check_placement(candidates, self.spec, batched=True)  # (B, C)
        B = cand.shape[0]
        state = self._state.repeat(B)
        energy, sla, migrations = np.zeros(B), np.zeros(B), np.zeros(B)
        resp_sum, n_done = np.zeros(B), np.zeros(B)
        rate = np.zeros(cand.shape)
        for k in range(horizon):
            fx = self.estimate.effects(k, self._down_now)
            res = engine.step(self._ctx, state, cand, self.t + k, fx, monitor=False)
            energy += res.energy_j
            sla += res.sla_violations
            migrations += res.migrations
            resp_sum += res.response_sum_s
            n_done += res.completed
            rate = res.rate
        end_s = (self.t + horizon) * self._ctx.interval_s
        left = state.work_total - state.work_done  # (B, C)
        base = np.maximum(engine.demand(state, self._ctx.bank).mips, 1.0)
        projected = left / np.where(rate > 0, rate, base)
        elapsed = np.where(np.isnan(state.start_s), 0.0, end_s - state.start_s)
        open_resp = np.where(state.active, elapsed + projected, 0.0).sum(axis=1)
        n = n_done + state.active.sum(axis=1)
        return CosimResult(
            energy_j=energy,
            mean_response_s=(resp_sum + open_resp) / np.maximum(n, 1),
            sla_violations=sla,
            migrations=migrations,
        )


class PlacementError(ValueError):
    """A placement array has the wrong shape, type or host index."""


def check_placement(placement: object, spec: ClusterSpec, batched: bool) -> np.ndarray:
    """(B, C) int64 copy of a (C,) or (B, C) placement; one clear error otherwise."""
    arr = np.asarray(placement)
    C, H = spec.n_slots, spec.n_hosts
    want = "(B, C)" if batched else "(C,)"
    if arr.ndim != (2 if batched else 1) or arr.shape[-1] != C:
        raise PlacementError(f"placement must have shape {want} with C={C}, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise PlacementError(f"placement must hold integer host indices, got dtype {arr.dtype}")
    if arr.size and (arr.min() < -1 or arr.max() >= H):
        raise PlacementError(
            f"placement host indices must be in [-1, {H}), got range [{arr.min()}, {arr.max()}]"
        )
    return arr.astype(np.int64).reshape(-1, C)


def _observed_level(last: np.ndarray, names: tuple[str, ...], kind: int) -> np.ndarray:
    """(H,) what the last interval's metrics show of a fault class's resource (fractions):
    the column itself where monitored, else the sum (disk) or max (network) of its parts."""
    col = {n: last[:, i] for i, n in enumerate(names)}
    zero = np.zeros(last.shape[0])
    if kind == CPU:
        return col.get("cpu", zero)
    if kind == LEAK:
        return col.get("ram", zero)
    if kind == DISK:
        return (
            col["disk"]
            if "disk" in col
            else col.get("disk_read", zero) + col.get("disk_write", zero)
        )
    if kind == NET:
        return (
            col["net"]
            if "net" in col
            else np.maximum(col.get("net_in", zero), col.get("net_out", zero))
        )
    return zero


def estimate_faults(obs: Observation, kind: np.ndarray) -> FaultEstimate:
    """A fault estimate from a detector's (H,) classes and the observation alone.

    The level of a fault is what its resource's last monitored value shows beyond what the
    placed containers explain (CPU: the placed base demand; RAM: the containers' own
    memory); the growth of a leak is the RAM slope over the last two intervals; a host the
    heartbeat shows down is a crash whatever the detector said.
    """
    H = obs.spec.n_hosts
    names = obs.spec.metrics
    kind = np.where(obs.host_up, np.asarray(kind, dtype=np.int64), CRASH)
    level, growth = np.zeros(H), np.zeros(H)
    hist = obs.host_metrics  # (t, H, D)
    if hist.shape[0] == 0:
        return FaultEstimate(kind, level, growth)
    last = hist[-1].astype(np.float64)  # (H, D)
    placed = obs.placement >= 0
    ram_own = np.zeros(H)
    np.add.at(ram_own, obs.placement[placed], obs.container_ram_mb[placed])
    cpu_own = obs.host_demand[-1] if obs.host_demand is not None and len(obs.host_demand) else 0.0
    own = {CPU: cpu_own, LEAK: ram_own / obs.spec.host_ram_mb, DISK: 0.0, NET: 0.0}
    for k in (CPU, LEAK, DISK, NET):
        seen = _observed_level(last, names, k)
        level = np.where(kind == k, np.clip(seen - own[k], 0.0, 1.0), level)
    if hist.shape[0] >= 2:
        prev = _observed_level(hist[-2].astype(np.float64), names, LEAK)
        slope = _observed_level(last, names, LEAK) - prev
        growth = np.where(kind == LEAK, np.clip(slope, 0.0, None), 0.0)
    return FaultEstimate(kind, level, growth)
