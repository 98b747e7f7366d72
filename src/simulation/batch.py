"""B independent seeded episodes of one cluster configuration, stepped in one engine call.

The live simulator's whole interval (admission, crash eviction, the engine, monitoring
noise, ground truth, deadline accounting, the QoS row) written once with a leading batch
axis B: row b replays episode `plans[b]` (its own workload bank, arrivals, fault schedule
and noise stream). `Simulator` is this class with B = 1, so a row of a batch reproduces
exactly what a single simulator of that seed does (tests/simulation/test_batch.py), and the
vector environment steps 64 clusters for about the cost of one (benchmarks/bench_env.py).

Rows run in lockstep (one interval counter t): every episode of a configuration has the
same `n_intervals`, so a batch started together ends together.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.typing import DTypeLike

from pregan.simulation import engine
from pregan.simulation.arrivals import ArrivalStream, draw_arrivals
from pregan.simulation.config import FaultsConfig, SimulationConfig
from pregan.simulation.faults import FaultEffects, FaultSchedule, draw_faults, fault_effects
from pregan.simulation.hosts import HostArrays, build_hosts, cluster_spec
from pregan.simulation.interfaces import QOS_COLUMNS, ClusterSpec, Observation
from pregan.simulation.placement import host_sum
from pregan.simulation.state import SlotState
from pregan.simulation.workload_bank import SERIES_FIELDS, WorkloadBank


@dataclass(frozen=True)
class EpisodePlan:
    """Everything a seed fixes before an episode runs: drawn once, replayed read-only."""

    seed: int
    bank: WorkloadBank
    arrivals: ArrivalStream
    faults: FaultSchedule
    level: np.ndarray  # (T, H) fault level of every interval (`FaultSchedule.level`)
    noise: np.ndarray  # (T, H, D) monitoring noise of every interval, drawn in one call


def plan_episode(
    sim_cfg: SimulationConfig,
    faults_cfg: FaultsConfig,
    hosts: HostArrays,
    bank: WorkloadBank,
    seed: int,
) -> EpisodePlan:
    """Draw episode `seed`: arrivals, faults and noise from independent streams of one seed,
    so a fault-free run of the same seed sees the same containers."""
    arrival_ss, fault_ss, noise_ss = np.random.SeedSequence(int(seed)).spawn(3)
    T, H, D = sim_cfg.n_intervals, hosts.n_hosts, len(sim_cfg.metrics)
    arrivals = draw_arrivals(sim_cfg, bank, hosts.ips, np.random.default_rng(arrival_ss))
    faults = draw_faults(faults_cfg, H, T, np.random.default_rng(fault_ss))
    level = np.stack([faults.level(t) for t in range(T)]) if T else np.zeros((0, H))
    # One draw of T x H x D is the same sequence as T draws of H x D, one per interval.
    noise = np.random.default_rng(noise_ss).normal(0.0, sim_cfg.noise_std, (T, H, D))
    return EpisodePlan(int(seed), bank, arrivals, faults, level, noise)


@dataclass(frozen=True)
class ClusterView:
    """What a scheduler or policy may see of each row before interval t runs, (B, ...) each:
    no fault truth. `Observation` is row b of it plus the histories."""

    host_up: np.ndarray  # (B, H) bool
    placement: np.ndarray  # (B, C) int64, -1 unplaced or empty
    active: np.ndarray  # (B, C) bool
    needs_placement: np.ndarray  # (B, C) bool
    container_mips: np.ndarray  # (B, C)
    container_ram_mb: np.ndarray  # (B, C)
    container_disk_mb: np.ndarray  # (B, C)
    host_free_mips: np.ndarray  # (B, H)
    host_free_ram_mb: np.ndarray  # (B, H)
    host_free_disk_mb: np.ndarray  # (B, H)

    @classmethod
    def of(cls, obs: Observation) -> ClusterView:
        """A single observation as a batch of one."""
        return cls(**{f.name: np.asarray(getattr(obs, f.name))[None] for f in fields(cls)})


def _stack_banks(banks: Sequence[WorkloadBank]) -> WorkloadBank:
    """One bank holding every row of `banks` in order (trace rows offset by the earlier ones)."""
    if len(banks) == 1:
        return banks[0]
    cat = {f: np.concatenate([getattr(b, f) for b in banks]) for f in SERIES_FIELDS}
    return WorkloadBank(
        **cat,
        cpu_max_mips=np.concatenate([b.cpu_max_mips for b in banks]),
        source=" + ".join(dict.fromkeys(b.source for b in banks)),
    )


def _padded(rows: Sequence[np.ndarray], width: int, fill: float, dtype: DTypeLike) -> np.ndarray:
    """(B, width) array of the 1-D `rows`, each padded with `fill`."""
    out = np.full((len(rows), width), fill, dtype=dtype)
    for b, r in enumerate(rows):
        out[b, : r.shape[0]] = r
    return out


class ClusterBatch:
    """B episodes of one cluster configuration, one interval of all of them per `step`."""

    def __init__(
        self, sim_cfg: SimulationConfig, faults_cfg: FaultsConfig, plans: Sequence[EpisodePlan]
    ) -> None:
        self.cfg, self.faults_cfg = sim_cfg, faults_cfg
        self.hosts = build_hosts(sim_cfg)
        self.spec: ClusterSpec = cluster_spec(sim_cfg, self.hosts)
        self._banks: list[WorkloadBank] = []  # the stacked bank's parts, in order
        self._ctx: engine.EngineContext | None = None
        self.start(plans)

    @property
    def n_intervals(self) -> int:
        return int(self.cfg.n_intervals)

    @property
    def batch(self) -> int:
        return len(self.plans)

    @property
    def done(self) -> bool:
        return self.t >= self.n_intervals

    @property
    def ctx(self) -> engine.EngineContext:
        return self._ctx

    def _bank_offsets(self, plans: Sequence[EpisodePlan]) -> np.ndarray:
        """(B,) first row of each plan's bank in the stacked bank. Restacked, from the banks
        of these plans only, when one of them is not in it (a vector environment replaying a
        handful of training seeds soon holds all of their banks and stops restacking)."""
        known = {id(b): i for i, b in enumerate(self._banks)}
        if self._ctx is None or any(id(p.bank) not in known for p in plans):
            self._banks = list({id(p.bank): p.bank for p in plans}.values())
            known = {id(b): i for i, b in enumerate(self._banks)}
            stacked = _stack_banks(self._banks)
            if self._ctx is None:
                self._ctx = engine.EngineContext.from_config(
                    self.cfg, self.faults_cfg, self.hosts, stacked
                )
            else:
                self._ctx = replace(self._ctx, bank=stacked)
        first = np.cumsum([0] + [b.n_traces for b in self._banks])
        return np.array([first[known[id(p.bank)]] for p in plans], dtype=np.int64)

    def start(self, plans: Sequence[EpisodePlan]) -> None:
        """Begin episode plans[b] in row b (B = len(plans)), all at interval 0."""
        if not plans:
            raise ValueError("ClusterBatch: no episode plans")
        self.plans = list(plans)
        B, T, H = len(plans), self.n_intervals, self.spec.n_hosts
        C, D = self.spec.n_slots, len(self.cfg.metrics)
        offset = self._bank_offsets(plans)
        arr = [p.arrivals for p in plans]
        A = max(1, max(a.n_total for a in arr))
        self._arrived_by = np.stack([a.arrived_by for a in arr])  # (B, T + 1)
        self._a_trace = _padded([a.trace for a in arr], A, 0, np.int64) + offset[:, None]
        self._a_work = _padded([a.work_mi for a in arr], A, 1.0, np.float64)
        self._a_creation = _padded([a.creation for a in arr], A, 0, np.int64)
        self._a_deadline = _padded([a.deadline_s for a in arr], A, np.inf, np.float64)
        self._a_disk = _padded([a.disk_mb for a in arr], A, 0.0, np.float64)
        self._a_image = _padded([a.image_mb for a in arr], A, 0.0, np.float64)
        self._n_total = np.array([a.n_total for a in arr], dtype=np.int64)
        # Deadlines in order per row (padding last, never inside a row's edges).
        order = [np.argsort(a.deadline_s, kind="stable") for a in arr]
        self._by_deadline = _padded(order, A, 0, np.int64)  # (B, A)
        self._deadline_sorted = np.take_along_axis(self._a_deadline, self._by_deadline, 1)
        pad = np.arange(A)[None, :] >= self._n_total[:, None]
        self._deadline_sorted[pad] = np.inf
        edges = np.arange(T + 1) * float(self.cfg.interval_s)
        self._due_edges = np.stack(
            [
                np.searchsorted(a.deadline_s[o], edges, side="left")
                for a, o in zip(arr, order, strict=True)
            ]
        )  # (B, T + 1)
        self._kind = np.stack([p.faults.kind for p in plans])  # (B, T, H) int8
        self._level = np.stack([p.level for p in plans])  # (B, T, H)
        self._noise = np.stack([p.noise for p in plans])  # (B, T, H, D)
        self._state = SlotState.empty(C, B)
        self._admitted = np.zeros(B, dtype=np.int64)
        self.t = 0
        self._fx: tuple[int, FaultEffects] | None = None
        self._dem: engine.Demand | None = None  # demand of the current state, once per interval
        self._metrics = np.zeros((B, T, H, D), dtype=np.float32)
        self._truth = np.zeros((B, T, H, D), dtype=bool)
        self._finish_s = np.full((B, A), np.nan)
        self._placement = np.full((B, T, C), -1, dtype=np.int16)
        self._demand = np.zeros((B, T, H), dtype=np.float32)
        self._qos = np.full((B, T, len(QOS_COLUMNS)), np.nan)
        self._prepare()

    def effects(self, t: int | None = None) -> FaultEffects:
        """(B, H) fault effects of interval t (default now; the last persists past the end)."""
        t = min(self.t if t is None else t, self.n_intervals - 1)
        if self._fx is None or self._fx[0] != t:
            self._fx = (t, fault_effects(self._kind[:, t], self._level[:, t]))
        return self._fx[1]

    def _prepare(self) -> None:
        """Start interval t: crashed hosts drop their containers, the queue fills free slots
        in slot order with the containers that arrived, in arrival order."""
        self._dem = None
        if self.done:
            return
        engine.evict_crashed(self._state, self.effects().down)
        s = self._state
        free = ~s.active  # (B, C)
        rank = np.cumsum(free, axis=1) - 1  # (B, C) index of each free slot among the free
        queued = self._arrived_by[:, self.t + 1] - self._admitted  # (B,)
        n = np.minimum(free.sum(axis=1), queued)
        admit = free & (rank < n[:, None])
        if not admit.any():
            return
        ids = np.where(admit, self._admitted[:, None] + rank, 0)  # (B, C) arrival index
        flat = ids + np.arange(len(ids))[:, None] * self._a_trace.shape[1]  # into (B * A)

        def take(values: np.ndarray) -> np.ndarray:
            return values.reshape(-1).take(flat)

        s.active = s.active | admit
        s.host = np.where(admit, -1, s.host)
        s.trace = np.where(admit, take(self._a_trace), s.trace)
        s.sample = np.where(admit, 0, s.sample)
        s.work_total = np.where(admit, take(self._a_work), s.work_total)
        s.work_done = np.where(admit, 0.0, s.work_done)
        s.creation = np.where(admit, take(self._a_creation), s.creation)
        s.start_s = np.where(admit, np.nan, s.start_s)
        s.deadline_s = np.where(admit, take(self._a_deadline), s.deadline_s)
        s.disk_mb = np.where(admit, take(self._a_disk), s.disk_mb)
        s.image_mb = np.where(admit, take(self._a_image), s.image_mb)
        s.cid = np.where(admit, ids, s.cid)
        self._admitted += n

    def _slot_demand(self) -> engine.Demand:
        """Each slot's demand in the current state (the view and the step share it)."""
        if self._dem is None:
            self._dem = engine.demand(self._state, self._ctx.bank)
        return self._dem

    def view(self) -> ClusterView:
        """What every row's scheduler or policy may see before interval t runs."""
        s = self._state
        dem = self._slot_demand()
        placed = s.host >= 0
        H = self.spec.n_hosts

        def used(values: np.ndarray) -> np.ndarray:
            return host_sum(np.where(placed, values, 0.0), s.host, H)

        return ClusterView(
            host_up=~self.effects().down,
            placement=s.host.copy(),
            active=s.active.copy(),
            needs_placement=s.active & (s.host < 0),
            container_mips=dem.mips,
            container_ram_mb=dem.ram_mb,
            container_disk_mb=np.where(s.active, s.disk_mb, 0.0),
            host_free_mips=self.spec.host_ips - used(dem.mips),
            host_free_ram_mb=self.spec.host_ram_mb - used(dem.ram_mb),
            host_free_disk_mb=self.spec.host_disk_mb - used(s.disk_mb),
        )

    def observation(self, b: int) -> Observation:
        """Row b's `Observation` (its histories read-only views), what its policy sees."""
        t, view = self.t, self.view()
        history = self._metrics[b, :t]
        demand_history = self._demand[b, :t]
        placement_history = self._placement[b, :t]
        for arr in (history, demand_history, placement_history):
            arr.flags.writeable = False
        return Observation(
            t=t,
            spec=self.spec,
            host_metrics=history,
            host_demand=demand_history,
            placement_history=placement_history,
            **{f.name: np.array(getattr(view, f.name)[b]) for f in fields(view)},
        )

    def step(self, target: np.ndarray) -> np.ndarray:
        """Run interval t of every row with the requested (B, C) placement (checked by the
        caller); return the (B, Q) QoS rows, `QOS_COLUMNS` order, NaN for undefined means."""
        if self.done:
            raise RuntimeError(f"episode finished: all {self.n_intervals} intervals executed")
        t, fx = self.t, self.effects()
        res = engine.step(self._ctx, self._state, target, t, fx, dem=self._slot_demand())
        self._dem = None
        noisy = res.util + self._noise[:, t]  # (B, H, D)
        noisy[fx.down] = 0.0
        self._metrics[:, t] = np.clip(noisy, 0.0, 1.0)
        self._truth[:, t] = res.driven & (self._kind[:, t] > 0)[:, :, None]
        self._placement[:, t] = res.placement
        self._demand[:, t] = res.host_demand
        queued_for_slot = self._arrived_by[:, t + 1] - self._admitted
        finished = ~np.isnan(res.finish_s)  # (B, C)
        b, c = np.nonzero(finished)
        self._finish_s[b, self._state.cid[b, c]] = res.finish_s[b, c]
        due, missed, overdue = self._deadlines(t)
        with np.errstate(invalid="ignore", divide="ignore"):
            rows = np.stack(
                [
                    res.energy_j,
                    _nan_div(res.response_sum_s, res.completed),
                    res.sla_violations,
                    res.completed,
                    res.migrations,
                    _nan_div(res.migration_sum_s, res.migrations),
                    _nan_div(res.wait_sum, res.started),
                    res.active_placed,
                    res.unplaced + queued_for_slot,
                    due,
                    missed,
                    overdue,
                ],
                axis=1,
            ).astype(np.float64)  # (B, Q)
        self._qos[:, t] = rows
        self.t += 1
        self._prepare()
        return rows

    def _deadlines(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(B,) each: containers whose deadline fell in interval t, those of them not finished
        by it, and all containers past their deadline still unfinished at the end of t."""
        lo, hi = self._due_edges[:, t : t + 1], self._due_edges[:, t + 1 : t + 2]  # (B, 1)
        pos = np.arange(self._by_deadline.shape[1])[None, :]  # (1, A)
        fin = np.take_along_axis(self._finish_s, self._by_deadline, axis=1)  # (B, A)
        unfinished = np.isnan(fin)
        with np.errstate(invalid="ignore"):
            late = unfinished | (fin > self._deadline_sorted)
        window = (pos >= lo) & (pos < hi)
        missed = (window & late).sum(axis=1)
        overdue = ((pos < hi) & unfinished).sum(axis=1)
        return (hi - lo)[:, 0], missed, overdue

    def metrics_window(self, window: int) -> np.ndarray:
        """(B, W, H, D) float32: the last `window` monitored intervals, zeros before the first."""
        B, _, H, D = self._metrics.shape
        out = np.zeros((B, window, H, D), dtype=np.float32)
        n = min(window, self.t)
        if n:
            out[:, window - n :] = self._metrics[:, self.t - n : self.t]
        return out

    def fault_class_now(self) -> np.ndarray:
        """(B, H) injected fault class of the last executed interval (zeros before the first)."""
        if self.t == 0:
            return np.zeros((self.batch, self.spec.n_hosts), dtype=np.int64)
        return self._kind[:, self.t - 1].astype(np.int64)

    def copy(self) -> ClusterBatch:
        """An independent copy; shares only the read-only plans, bank and padded arrivals."""
        child = copy.copy(self)
        child._state = self._state.copy()
        child._admitted = self._admitted.copy()
        for name in ("_metrics", "_truth", "_finish_s", "_placement", "_demand", "_qos"):
            setattr(child, name, getattr(self, name).copy())
        return child


def _nan_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """(B,) num / den, NaN where den is 0 (an undefined mean)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
