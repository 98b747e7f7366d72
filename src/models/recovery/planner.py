"""`model=planner`: model-predictive recovery by co-simulation, the quality bar for the GAN.

At each interval with a flagged host, the planner builds a candidate set of leave sets over
the containers of the flagged hosts (`decoding.leave_sets`: evacuate everything, each flagged
host, the heavier half of each, each container alone; no move is always candidate 0), adds
the proposals of a learned generator when it has one, co-simulates all of them in one batched
call on a snapshot of the cluster under the faults it estimated from its classifier's
verdicts (`pregan.simulation.cosim.estimate_faults`), and enacts the lowest score
(`CosimScoring`). Horizon, candidate budget and score weights are config
(`conf/migrator/gan.yaml`: the GAN is trained to propose what this planner chooses). Its
decision time is the runner's `decision_ms`, like every method's.

The oracle (`baselines.oracle`) is this planner given the true faults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from pregan.models.interfaces import FitContext
from pregan.models.recovery.classifier_flagging import (
    ClassifierFlagger,
    Flagger,
    classifier_verdict,
    fit_classifier,
)
from pregan.models.recovery.cosim_scoring import CosimScoring
from pregan.models.recovery.decoding import DecisionPoint, candidate_placements, decision_point
from pregan.models.recovery.fault_classifier import FaultClassifierModule
from pregan.simulation.cosim import Cosimulation, FaultEstimate, estimate_faults
from pregan.simulation.interfaces import ClusterSpec, Observation, RecoveryDecision

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


class PlannerPolicy:
    """RecoveryPolicy: detect, estimate the faults, co-simulate the candidates, enact the best."""

    name = "planner"

    def __init__(
        self,
        flagger: Flagger,
        window: int,
        scoring: CosimScoring,
        budget: int,
        name: str = "planner",
    ) -> None:
        if budget < 1:
            raise ValueError(f"planner: candidate budget must be >= 1, got {budget}")
        self.flagger, self.window, self.scoring, self.budget = flagger, window, scoring, budget
        self.name = name
        self._cosim: MakeCosim | None = None
        self.last_plan: Plan | None = None

    def reset(self, spec: ClusterSpec) -> None:
        self.last_plan = None

    def attach_cosimulator(self, make: MakeCosim) -> None:
        """`make(estimate)` snapshots the live cluster under a fault estimate (runner-given)."""
        self._cosim = make

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        proposal = np.asarray(proposal, dtype=np.int64)
        decision, flags, emb = classifier_verdict(self.flagger, obs, proposal)
        if obs.t < self.window or not flags.any():
            return decision
        if self._cosim is None:
            raise CosimulatorMissingError(
                f"{self.name}: attach_cosimulator(make) must be called before decide()"
            )
        point = decision_point(
            obs, proposal, flags, emb, self._cosim(verdict_estimate(obs, decision))
        )
        self.last_plan = plan(point, self.scoring, self.budget)
        decision.placement = self.last_plan.placement
        return decision


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


class PlannerMethod:
    """Fit trains PreGAN's classifier (same config, same early stopping); no GAN."""

    def __init__(
        self,
        name: str = "planner",
        classifier: DictConfig | None = None,
        migrator: DictConfig | None = None,
        **_: Any,
    ) -> None:
        if classifier is None or migrator is None:
            raise ValueError("conf/model/planner.yaml: `classifier` and `migrator` are required")
        self.name, self.classifier_cfg = name, classifier
        self.scoring, self.budget = scoring_from(migrator, "conf/migrator/gan.yaml")
        self.classifier: FaultClassifierModule | None = None
        self._artifacts: dict[str, Path] = {}

    def fit(self, ctx: FitContext) -> dict[str, float]:
        self.classifier, metrics, best = fit_classifier(self.classifier_cfg, ctx)
        if best is not None:
            self._artifacts["classifier"] = best
        return metrics

    def policy(self) -> PlannerPolicy:
        if self.classifier is None:
            raise RuntimeError("PlannerMethod.policy(): call fit() first")
        return PlannerPolicy(
            ClassifierFlagger(self.classifier),
            window=int(self.classifier.hparams.window),
            scoring=self.scoring,
            budget=self.budget,
            name=self.name,
        )

    def artifacts(self) -> dict[str, Path]:
        return dict(self._artifacts)
