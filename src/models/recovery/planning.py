"""The co-simulation search shared by the planner, the oracle and PreGAN's GAN (which learns to
propose what it chooses): candidate leave sets of a decision point scored in one batched
co-simulation call, the fault estimate a classifier's verdict implies, and the objective and
budget read from the migrator config. No method lives here, so each method imports it
without reaching into another method's module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from pregan.models.recovery.cosim_scoring import CosimScoring
from pregan.models.recovery.decoding import DecisionPoint, candidate_placements
from pregan.simulation.cosim import Cosimulation, FaultEstimate, estimate_faults
from pregan.simulation.interfaces import Observation, RecoveryDecision

MakeCosim = Callable[[FaultEstimate], Cosimulation]
"""estimate -> a co-simulation snapshot of the live cluster (`Simulator.cosimulator`)."""


class CosimulatorMissingError(RuntimeError):
    """A co-simulating policy was asked to decide before the runner attached a cosimulator."""


@dataclass(frozen=True)
class Plan:
    """What the planner chose at one decision point."""

    placement: np.ndarray  # (C,) the enacted candidate
    index: int  # its row among the candidates (0 = no move)
    candidates: np.ndarray  # (B, C)
    scores: np.ndarray  # (B,) co-simulated, lower is better


def plan(
    point: DecisionPoint,
    scoring: CosimScoring,
    budget: int,
    extra: np.ndarray | None = None,
    min_gain: float = 0.0,
) -> Plan:
    """Co-simulate the candidate set of `point` (plus `extra` (E, C) placements) on
    `point.sim` in one batched call; choose the lowest score, keeping the proposal unless a
    candidate beats it by more than `min_gain`."""
    if point.sim is None:
        raise CosimulatorMissingError("planner: the decision point has no co-simulation")
    cands, _ = candidate_placements(point, budget)  # (B, C)
    if extra is not None and len(extra):
        cands = np.unique(np.vstack([cands, extra]), axis=0, return_index=True)
        cands = cands[0][np.argsort(cands[1])]  # first occurrence order: row 0 stays S
    scores = scoring.score(point.sim, cands)  # (B,)
    best = int(np.argmin(scores))
    if scores[0] - scores[best] <= min_gain:
        best = 0
    return Plan(placement=cands[best], index=best, candidates=cands, scores=scores)


def verdict_estimate(obs: Observation, decision: RecoveryDecision) -> FaultEstimate:
    """The faults a classifier-driven policy assumes: each flagged host has the class its
    classifier gave it (CPU overload for a flagger without classes), at the level the last
    monitored interval shows (`pregan.simulation.cosim.estimate_faults`)."""
    flags = np.asarray(decision.host_flags, dtype=bool)
    classes = np.asarray(decision.fault_class, dtype=np.int64)
    if not classes.any():
        classes = np.ones_like(classes)
    return estimate_faults(obs, np.where(flags, classes, 0))


def scoring_from(migrator: Any, source: str) -> tuple[CosimScoring, int]:
    """The planner's objective and candidate budget from a migrator config (`cosim`,
    `planner.budget`), validated."""
    cosim = migrator.get("cosim")
    if cosim is None:
        raise ValueError(f"{source}: `cosim` (horizon and weights) is required")
    cosim = OmegaConf.to_container(cosim, resolve=True) if isinstance(cosim, DictConfig) else cosim
    planner = migrator.get("planner") or {}
    budget = planner.get("budget")
    if not isinstance(budget, int) or budget < 1:
        raise ValueError(f"{source}: planner.budget must be a positive integer, got {budget!r}")
    return CosimScoring.from_config(cosim, source=source), budget
