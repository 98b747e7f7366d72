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

from typing import Any

import numpy as np
from omegaconf import DictConfig

from pregan.models.recovery.classifier_flagging import (
    ClassifierFlagger,
    ClassifierMethod,
    Flagger,
    classifier_verdict,
)
from pregan.models.recovery.cosim_scoring import CosimScoring
from pregan.models.recovery.decoding import decision_point
from pregan.models.recovery.planning import (
    CosimulatorMissingError,
    MakeCosim,
    Plan,
    plan,
    scoring_from,
    verdict_estimate,
)
from pregan.simulation.interfaces import ClusterSpec, Observation, RecoveryDecision


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


class PlannerMethod(ClassifierMethod):
    """Fit trains PreGAN's classifier (same config, same early stopping); no GAN."""

    def __init__(
        self,
        name: str = "planner",
        classifier: DictConfig | None = None,
        migrator: DictConfig | None = None,
        **_: Any,
    ) -> None:
        if migrator is None:
            raise ValueError("conf/model/planner.yaml: `migrator` is required")
        super().__init__(name, classifier, "conf/model/planner.yaml")
        self.scoring, self.budget = scoring_from(migrator, "conf/migrator/gan.yaml")

    def policy(self) -> PlannerPolicy:
        classifier = self.fitted_classifier()
        return PlannerPolicy(
            ClassifierFlagger(classifier).prepare(),
            window=int(classifier.hparams.window),
            scoring=self.scoring,
            budget=self.budget,
            name=self.name,
        )
