"""The live co-simulator: one seeded episode, interval by interval, plus co-simulation.

All randomness is drawn from one seed through independent streams (arrivals, faults,
monitoring noise), so a fault-free run of the same seed sees the same containers, and
forking or co-simulating never disturbs the live episode.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from pregan.simulation import engine
from pregan.simulation.arrivals import draw_arrivals
from pregan.simulation.config import (
    FaultsConfig,
    SimulationConfig,
    faults_from_dictconfig,
    simulation_from_dictconfig,
)
from pregan.simulation.cosim import Cosimulation, FaultEstimate, check_placement
from pregan.simulation.faults import FaultEffects, draw_faults
from pregan.simulation.hosts import BITS_PER_BYTE, build_hosts, cluster_spec
from pregan.simulation.interfaces import METRICS, QOS_COLUMNS, ClusterSpec, Observation
from pregan.simulation.placement import host_sum
from pregan.simulation.record import EpisodeRecord, percentile_labels
from pregan.simulation.state import SlotState
from pregan.simulation.workload_bank import WorkloadBank


def _nan_div(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


class Simulator:
    """A Raspberry-Pi edge cluster running one seeded episode of `n_intervals` intervals."""

    def __init__(
        self, sim_cfg: SimulationConfig, faults_cfg: FaultsConfig, bank: WorkloadBank, seed: int
    ) -> None:
        self.cfg, self.faults_cfg, self.seed = sim_cfg, faults_cfg, int(seed)
        arrival_ss, fault_ss, noise_ss = np.random.SeedSequence(self.seed).spawn(3)
        hosts = build_hosts(sim_cfg)
        self.spec: ClusterSpec = cluster_spec(sim_cfg, hosts)
        self._ctx = engine.EngineContext(
            hosts=hosts,
            bank=bank,
            interval_s=float(sim_cfg.interval_s),
            router_mb_s=float(sim_cfg.router_mbit_per_s) / BITS_PER_BYTE,
            burst_factor=float(sim_cfg.burst_factor),
            idle_cpu=float(sim_cfg.idle_cpu_fraction),
            idle_ram_mb=float(sim_cfg.idle_ram_mb),
            migration_overhead_s=float(sim_cfg.migration_overhead_s),
            slowdown=sim_cfg.slowdown,
            effects=faults_cfg.effects,
            metric_idx=np.array([METRICS.index(m) for m in sim_cfg.metrics], dtype=np.int64),
        )
        T, H, C, D = sim_cfg.n_intervals, hosts.n_hosts, sim_cfg.slots, len(sim_cfg.metrics)
        self._arrivals = draw_arrivals(sim_cfg, bank, hosts.ips, np.random.default_rng(arrival_ss))
        self._faults = draw_faults(faults_cfg, H, T, np.random.default_rng(fault_ss))
        self._noise = np.random.default_rng(noise_ss)
        self._fx_cache: dict[int, FaultEffects] = {}
        self._state = SlotState.empty(C)
        self._admitted = 0
        self.t = 0
        self._metrics = np.zeros((T, H, D), dtype=np.float32)
        self._truth = np.zeros((T, H, D), dtype=bool)
        # Finish time of every arriving container (NaN until it finishes); deadlines in order.
        a = self._arrivals
        self._finish_s = np.full(a.n_total, np.nan)
        self._by_deadline = np.argsort(a.deadline_s, kind="stable")  # (A,)
        edges = np.arange(T + 1) * float(sim_cfg.interval_s)
        self._due_edges = np.searchsorted(a.deadline_s[self._by_deadline], edges, side="left")
        self._placement = np.full((T, C), -1, dtype=np.int16)
        self._demand = np.zeros((T, H), dtype=np.float32)
        self._qos = np.full((T, len(QOS_COLUMNS)), np.nan)
        self._prepare()

    @classmethod
    def from_config(cls, cfg: Any, seed: int) -> Simulator:
        """Build from a config with .simulation, .workload and .faults (validated here)."""
        from pregan.simulation.workload import build_workload

        sim_cfg = simulation_from_dictconfig(cfg.simulation)
        faults_cfg = faults_from_dictconfig(cfg.faults, sim_cfg.n_hosts)
        return cls(sim_cfg, faults_cfg, build_workload(cfg.workload, seed), seed)

    @property
    def n_intervals(self) -> int:
        return int(self.cfg.n_intervals)

    @property
    def done(self) -> bool:
        return self.t >= self.n_intervals

    def _effects(self, t: int) -> FaultEffects:
        """Fault effects of interval t, computed once (observe, step and cosim all need them)."""
        if t not in self._fx_cache:
            self._fx_cache = {t: self._faults.effects(t)}
        return self._fx_cache[t]

    def _prepare(self) -> None:
        """Start interval t: crashed hosts drop their containers, the queue fills free slots."""
        if self.done:
            return
        engine.evict_crashed(self._state, self._effects(self.t).down)
        s, a = self._state, self._arrivals
        free = np.flatnonzero(~s.active[0])
        n = min(len(free), int(a.arrived_by[self.t + 1]) - self._admitted)
        slots, ids = free[:n], np.arange(self._admitted, self._admitted + n)
        s.active[0, slots] = True
        s.host[0, slots] = -1
        s.trace[0, slots] = a.trace[ids]
        s.sample[0, slots] = 0
        s.work_total[0, slots] = a.work_mi[ids]
        s.work_done[0, slots] = 0.0
        s.creation[0, slots] = a.creation[ids]
        s.start_s[0, slots] = np.nan
        s.deadline_s[0, slots] = a.deadline_s[ids]
        s.disk_mb[0, slots] = a.disk_mb[ids]
        s.image_mb[0, slots] = a.image_mb[ids]
        s.cid[0, slots] = ids
        self._admitted += n

    def observe(self) -> Observation:
        """What a scheduler or policy may see before interval t runs (no fault truth)."""
        s = self._state
        dem = engine.demand(s, self._ctx.bank)
        host = s.host[0]
        placed = host[None] >= 0
        H = self.spec.n_hosts

        def used(values: np.ndarray) -> np.ndarray:
            return host_sum(np.where(placed, values, 0.0), s.host, H)[0]

        history = self._metrics[: self.t]
        history.flags.writeable = False
        demand_history = self._demand[: self.t]
        demand_history.flags.writeable = False
        placement_history = self._placement[: self.t]
        placement_history.flags.writeable = False
        active = s.active[0].copy()
        return Observation(
            t=self.t,
            spec=self.spec,
            host_metrics=history,
            host_up=~self._effects(self.t).down,
            placement=host.copy(),
            active=active,
            needs_placement=active & (host < 0),
            container_mips=dem.mips[0],
            container_ram_mb=dem.ram_mb[0],
            container_disk_mb=np.where(active, s.disk_mb[0], 0.0),
            host_free_mips=self.spec.host_ips - used(dem.mips),
            host_free_ram_mb=self.spec.host_ram_mb - used(dem.ram_mb),
            host_free_disk_mb=self.spec.host_disk_mb - used(s.disk_mb),
            host_demand=demand_history,
            placement_history=placement_history,
        )

    def step(self, placement: Any) -> np.ndarray:
        """Run interval t with the requested (C,) placement; return its QoS row."""
        if self.done:
            raise RuntimeError(f"episode finished: all {self.n_intervals} intervals executed")
        target = check_placement(placement, self.spec, batched=False)  # (1, C)
        t, fx = self.t, self._effects(self.t)
        res = engine.step(self._ctx, self._state, target, t, fx)
        noisy = res.util[0] + self._noise.normal(0.0, self.cfg.noise_std, res.util[0].shape)
        noisy[fx.down] = 0.0
        self._metrics[t] = np.clip(noisy, 0.0, 1.0)
        self._truth[t] = res.driven[0] & (self._faults.kind[t] > 0)[:, None]
        self._placement[t] = res.placement[0]
        self._demand[t] = res.host_demand[0]
        queued_for_slot = int(self._arrivals.arrived_by[t + 1]) - self._admitted
        finished = ~np.isnan(res.finish_s[0])
        self._finish_s[self._state.cid[0, finished]] = res.finish_s[0, finished]
        due, missed, overdue = self._deadlines(t)
        row = np.array(
            [
                res.energy_j[0],
                _nan_div(res.response_sum_s[0], res.completed[0]),
                res.sla_violations[0],
                res.completed[0],
                res.migrations[0],
                _nan_div(res.migration_sum_s[0], res.migrations[0]),
                _nan_div(res.wait_sum[0], res.started[0]),
                res.active_placed[0],
                res.unplaced[0] + queued_for_slot,
                due,
                missed,
                overdue,
            ],
            dtype=np.float64,
        )
        self._qos[t] = row
        self.t += 1
        self._prepare()
        return row

    def _deadlines(self, t: int) -> tuple[int, int, int]:
        """Containers whose deadline fell in interval t, those of them not finished by it,
        and all containers past their deadline still unfinished at the end of t."""
        lo, hi = self._due_edges[t], self._due_edges[t + 1]
        ids = self._by_deadline[lo:hi]
        fin, dl = self._finish_s[ids], self._arrivals.deadline_s[ids]
        missed = int((np.isnan(fin) | (fin > dl)).sum())
        overdue = int(np.isnan(self._finish_s[self._by_deadline[:hi]]).sum())
        return len(ids), missed, overdue

    def fault_class_now(self) -> np.ndarray:
        """(H,) injected fault class of the last executed interval (zeros before the first)."""
        if self.t == 0:
            return np.zeros(self.spec.n_hosts, dtype=np.int64)
        return self._faults.kind[self.t - 1].astype(np.int64)

    def fault_truth_now(self) -> np.ndarray:
        """(H, D) bool metrics the faults drove in the last executed interval (the oracle's)."""
        if self.t == 0:
            return np.zeros((self.spec.n_hosts, len(self.spec.metrics)), dtype=bool)
        return self._truth[self.t - 1].copy()

    def fork(self) -> Simulator:
        """An independent copy; shares only the read-only bank, arrivals and fault schedule."""
        child = copy.copy(self)
        child._state = self._state.copy()
        child._noise = copy.deepcopy(self._noise)
        child._metrics = self._metrics.copy()
        child._truth = self._truth.copy()
        child._finish_s = self._finish_s.copy()
        child._placement = self._placement.copy()
        child._demand = self._demand.copy()
        child._qos = self._qos.copy()
        return child

    def cosimulator(self, estimate: FaultEstimate) -> Cosimulation:
        """A co-simulation snapshot of the current container state under `estimate`.

        The estimate is the only fault knowledge it holds (see `pregan.simulation.cosim`):
        a policy passes what its own detector concluded, never this simulator's schedule.
        """
        return Cosimulation(
            self._ctx, self.spec, self._state, self.t, ~self._effects(self.t).down, estimate
        )

    def true_faults(self) -> FaultEstimate:
        """The schedule's faults at the interval about to run, as a FaultEstimate.

        Truth: for the oracle and for offline training on training seeds only.
        """
        t = min(self.t, self.n_intervals - 1)
        f = self._faults
        return FaultEstimate(f.kind[t].astype(np.int64), f.level(t), f.growth(t))

    def record(self) -> EpisodeRecord:
        """The executed intervals as an EpisodeRecord, labelled as `faults.labels` says."""
        t = self.t
        metrics = self._metrics[:t].copy()
        if self.faults_cfg.labels == "percentile":
            truth, klass = percentile_labels(metrics, self.spec.metrics, self.faults_cfg.percentile)
        else:
            truth, klass = self._truth[:t], self._faults.kind[:t]
        return EpisodeRecord(
            host_metrics=metrics,
            placement=self._placement[:t].copy(),
            host_demand=self._demand[:t].copy(),
            fault_truth=truth.copy(),
            fault_class=klass.astype(np.int8),
            qos=self._qos[:t].astype(np.float32),
            host_profile=self.spec.host_profile.astype(np.int8),
            seed=self.seed,
            metrics=self.spec.metrics,
        )
