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
from pregan.simulation.batch import ClusterBatch, EpisodePlan, plan_episode
from pregan.simulation.config import (
    FaultsConfig,
    SimulationConfig,
    faults_from_dictconfig,
    simulation_from_dictconfig,
)
from pregan.simulation.cosim import Cosimulation, FaultEstimate, check_placement
from pregan.simulation.hosts import build_hosts
from pregan.simulation.interfaces import ClusterSpec, Observation
from pregan.simulation.record import EpisodeRecord, percentile_labels
from pregan.simulation.state import SlotState
from pregan.simulation.workload_bank import WorkloadBank


class Simulator:
    """A Raspberry-Pi edge cluster running one seeded episode of `n_intervals` intervals.

    Row 0 of a `ClusterBatch` of one: the batched vector environment and this class run the
    very same interval code, so a batch row reproduces this simulator's episode exactly.
    """

    def __init__(
        self,
        sim_cfg: SimulationConfig,
        faults_cfg: FaultsConfig,
        bank: WorkloadBank,
        seed: int,
        plan: EpisodePlan | None = None,
    ) -> None:
        """`plan`: episode `seed` already drawn (`plan_episode`), e.g. cached by an
        environment that replays the same seeds; drawn here when None."""
        self.cfg, self.faults_cfg, self.seed = sim_cfg, faults_cfg, int(seed)
        if plan is None:
            plan = plan_episode(sim_cfg, faults_cfg, build_hosts(sim_cfg), bank, self.seed)
        elif plan.seed != self.seed or plan.bank is not bank:
            raise ValueError(
                f"Simulator: the plan (seed {plan.seed}) is not episode {self.seed} of this bank"
            )
        self._batch = ClusterBatch(sim_cfg, faults_cfg, [plan])
        self.spec: ClusterSpec = self._batch.spec
        self._faults = plan.faults

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
    def t(self) -> int:
        return self._batch.t

    @property
    def done(self) -> bool:
        return self._batch.done

    @property
    def _state(self) -> SlotState:
        return self._batch._state

    @property
    def _ctx(self) -> engine.EngineContext:
        return self._batch.ctx

    @property
    def _admitted(self) -> int:
        return int(self._batch._admitted[0])

    def observe(self) -> Observation:
        """What a scheduler or policy may see before interval t runs (no fault truth)."""
        return self._batch.observation(0)

    def step(self, placement: Any) -> np.ndarray:
        """Run interval t with the requested (C,) placement; return its QoS row."""
        if self.done:
            raise RuntimeError(f"episode finished: all {self.n_intervals} intervals executed")
        target = check_placement(placement, self.spec, batched=False)  # (1, C)
        return self._batch.step(target)[0]

    def fault_class_now(self) -> np.ndarray:
        """(H,) injected fault class of the last executed interval (zeros before the first)."""
        return self._batch.fault_class_now()[0]

    def fault_truth_now(self) -> np.ndarray:
        """(H, D) bool metrics the faults drove in the last executed interval (the oracle's)."""
        if self.t == 0:
            return np.zeros((self.spec.n_hosts, len(self.spec.metrics)), dtype=bool)
        return self._batch._truth[0, self.t - 1].copy()

    def fork(self) -> Simulator:
        """An independent copy; shares only the read-only bank, arrivals and fault schedule."""
        child = copy.copy(self)
        child._batch = self._batch.copy()
        return child

    def cosimulator(self, estimate: FaultEstimate) -> Cosimulation:
        """A co-simulation snapshot of the current container state under `estimate`.

        The estimate is the only fault knowledge it holds (see `pregan.simulation.cosim`):
        a policy passes what its own detector concluded, never this simulator's schedule.
        """
        return Cosimulation(
            self._ctx, self.spec, self._state, self.t, ~self._batch.effects().down[0], estimate
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
        t, b = self.t, self._batch
        metrics = b._metrics[0, :t].copy()
        if self.faults_cfg.labels == "percentile":
            truth, klass = percentile_labels(metrics, self.spec.metrics, self.faults_cfg.percentile)
        else:
            truth, klass = b._truth[0, :t], self._faults.kind[:t]
        return EpisodeRecord(
            host_metrics=metrics,
            placement=b._placement[0, :t].copy(),
            host_demand=b._demand[0, :t].copy(),
            fault_truth=truth.copy(),
            fault_class=klass.astype(np.int8),
            qos=b._qos[0, :t].astype(np.float32),
            host_profile=self.spec.host_profile.astype(np.int8),
            seed=self.seed,
            metrics=self.spec.metrics,
        )
