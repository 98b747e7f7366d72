"""The oracle: the planner given the true faults, the upper bound of the comparison.

It is the only policy that sees ground truth. The runner hands it the simulator's
`fault_class_now` (the (H,) fault class of the last executed interval, reported as its
verdicts) through `attach_ground_truth`, `fault_truth_now` (the metrics the faults drove,
its diagnosis) through `attach_root_cause`, and `true_faults` (the schedule's faults of the
interval about to run) through `attach_true_faults`; like the planner it co-simulates through
`attach_cosimulator`. At every interval with a truly faulty host it runs the planner's search
(`planner.plan`: the same candidate set, objective and budget) on a snapshot holding the true
faults, so on its own objective no candidate of the planner's kind beats it, and a method that
lands above it owes that to the co-simulated objective differing from the episode's figures.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from omegaconf import DictConfig

from pregan.models.recovery.baselines.method import PolicyMethod
from pregan.models.recovery.cosim_scoring import CosimScoring
from pregan.models.recovery.decoding import decision_point
from pregan.models.recovery.planning import (
    CosimulatorMissingError,
    MakeCosim,
    Plan,
    plan,
    scoring_from,
)
from pregan.simulation.cosim import FaultEstimate
from pregan.simulation.faults import root_cause_table
from pregan.simulation.interfaces import FAULT_KINDS, ClusterSpec, Observation, RecoveryDecision


class GroundTruthMissingError(RuntimeError):
    """The oracle was asked to decide before the runner attached the ground truth."""


class GroundTruthShapeError(ValueError):
    """The ground-truth callback returned something other than (H,) fault classes."""


class OraclePolicy:
    """The planner's search over migrations off the truly faulty hosts, scored under the
    true faults."""

    def __init__(self, scoring: CosimScoring, budget: int, name: str = "oracle") -> None:
        self.name, self.scoring, self.budget = name, scoring, budget
        self._truth: Callable[[], np.ndarray] | None = None
        self._true_faults: Callable[[], FaultEstimate] | None = None
        self._root_cause: Callable[[], np.ndarray] | None = None
        self._cosim: MakeCosim | None = None
        self.last_plan: Plan | None = None

    def attach_ground_truth(self, fn: Callable[[], np.ndarray]) -> None:
        """`fn()` returns the (H,) int fault class (0 = none) of the last executed interval."""
        self._truth = fn

    def attach_root_cause(self, fn: Callable[[], np.ndarray]) -> None:
        """`fn()` returns the (H, D) bool metrics the faults drove in the last executed
        interval; without it the diagnosis is each class's signature (every metric it can
        drive, `pregan.simulation.faults.root_cause_table`)."""
        self._root_cause = fn

    def attach_true_faults(self, fn: Callable[[], FaultEstimate]) -> None:
        """`fn()` returns the schedule's faults of the interval about to run."""
        self._true_faults = fn

    def attach_cosimulator(self, make: MakeCosim) -> None:
        self._cosim = make

    def reset(self, spec: ClusterSpec) -> None:
        """No per-episode state; the runner re-attaches truth and cosimulator per episode."""
        self.last_plan = None

    def _classes(self, n_hosts: int) -> np.ndarray:
        if self._truth is None:
            raise GroundTruthMissingError(
                "oracle: attach_ground_truth(fn) must be called before decide()"
            )
        classes = np.asarray(self._truth())
        if classes.shape != (n_hosts,) or not np.issubdtype(classes.dtype, np.integer):
            raise GroundTruthShapeError(
                f"oracle: ground truth must be ({n_hosts},) int fault classes, "
                f"got shape {classes.shape} dtype {classes.dtype}"
            )
        if classes.min(initial=0) < 0 or classes.max(initial=0) > len(FAULT_KINDS):
            raise GroundTruthShapeError(
                f"oracle: fault classes must lie in 0..{len(FAULT_KINDS)}, "
                f"got {classes.min()}..{classes.max()}"
            )
        return classes.astype(np.int64)

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        proposal = np.asarray(proposal, dtype=np.int64)
        classes = self._classes(obs.spec.n_hosts)
        seen = classes > 0
        decision = RecoveryDecision(
            placement=proposal,
            host_scores=seen.astype(np.float32),
            host_flags=seen,
            dim_scores=(
                np.asarray(self._root_cause(), dtype=np.float32)
                if self._root_cause is not None
                else root_cause_table(obs.spec.metrics)[classes].astype(np.float32)
            ),
            fault_class=classes,
        )
        if self._true_faults is None or self._cosim is None:
            raise CosimulatorMissingError(
                "oracle: attach_true_faults(fn) and attach_cosimulator(make) must be called "
                "before decide()"
            )
        truth = self._true_faults()
        faulty = (np.asarray(truth.kind) > 0) & obs.host_up  # a crashed host's are evicted
        if not faulty.any():
            return decision
        emb = np.zeros((faulty.shape[0], 1), np.float32)
        point = decision_point(obs, proposal, faulty, emb, self._cosim(truth))
        self.last_plan = plan(point, self.scoring, self.budget)
        decision.placement = self.last_plan.placement
        return decision


class OracleMethod(PolicyMethod):
    """The oracle as a `Method`; its policy needs the runner's truth and cosimulator."""

    def __init__(self, name: str = "oracle", migrator: DictConfig | None = None) -> None:
        if migrator is None:
            raise ValueError("conf/model/oracle.yaml: `migrator` (cosim, planner) is required")
        scoring, budget = scoring_from(migrator, "conf/migrator/gan.yaml")
        super().__init__(OraclePolicy(scoring, budget, name))
