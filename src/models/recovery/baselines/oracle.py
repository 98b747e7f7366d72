"""The oracle: recovery with the injected faults known, the upper bound of the comparison.

It is the only policy that sees ground truth, through `attach_ground_truth(fn)`, which the
evaluation runner calls with the simulator's `fault_class_now` (the (H,) fault class of the
last executed interval). From the first interval after a fault shows up, and for as long as
it lasts, every container the scheduler would run on a faulty host is moved to the
least-loaded feasible healthy host (a crashed host's containers already need placement and
are kept off faulty hosts the same way). Its detection, diagnosis and classification are the
truth itself, which is what a bound should report.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pregan.models.recovery.baselines.method import PolicyMethod
from pregan.models.recovery.baselines.migration import containers_on, least_loaded, relocate
from pregan.simulation.faults import root_cause_table
from pregan.simulation.interfaces import (
    FAULT_KINDS,
    ClusterSpec,
    Observation,
    RecoveryDecision,
)


class GroundTruthMissingError(RuntimeError):
    """The oracle was asked to decide before the runner attached the ground truth."""


class GroundTruthShapeError(ValueError):
    """The ground-truth callback returned something other than (H,) fault classes."""


class OraclePolicy:
    """Moves every container off hosts that are truly faulty."""

    def __init__(self, name: str = "oracle") -> None:
        self.name = name
        self._truth: Callable[[], np.ndarray] | None = None
        self._root_cause: Callable[[], np.ndarray] | None = None

    def attach_ground_truth(self, fn: Callable[[], np.ndarray]) -> None:
        """`fn()` returns the (H,) int fault class (0 = none) of the last executed interval."""
        self._truth = fn

    def attach_root_cause(self, fn: Callable[[], np.ndarray]) -> None:
        """`fn()` returns the (H, D) bool metrics the faults drove in the last executed
        interval; without it the diagnosis is each class's signature (every metric it can
        drive, `pregan.simulation.faults.root_cause_table`)."""
        self._root_cause = fn

    def reset(self, spec: ClusterSpec) -> None:
        """No per-episode state; the truth callback is re-attached by the runner per episode."""

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        if self._truth is None:
            raise GroundTruthMissingError(
                "oracle: attach_ground_truth(fn) must be called before decide()"
            )
        classes = np.asarray(self._truth())
        n_hosts = obs.spec.n_hosts
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
        faulty = classes > 0
        movers = containers_on(proposal, obs.active, np.flatnonzero(faulty))
        return RecoveryDecision(
            placement=relocate(obs, proposal, movers, faulty, least_loaded),
            host_scores=faulty.astype(np.float32),
            host_flags=faulty,
            dim_scores=(
                np.asarray(self._root_cause(), dtype=np.float32)
                if self._root_cause is not None
                else root_cause_table(obs.spec.metrics)[classes].astype(np.float32)
            ),
            fault_class=classes.astype(np.int64),
        )


class OracleMethod(PolicyMethod):
    """The oracle as a `Method`; its policy needs `attach_ground_truth` before use."""

    def __init__(self, name: str = "oracle") -> None:
        super().__init__(OraclePolicy(name))
