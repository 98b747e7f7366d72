"""`model=evacuate`: PreGAN's classifier without the GAN, moving every container off every
host it flags.

This is the "always migrate everything from a faulty host" reference that PreGAN's quality
bar names: the same detector, the same target rule (`decoding.spread`: least-loaded healthy
host with room, loads updated as moves are taken), but no generator to decide which containers are
worth moving and no discriminator to veto. Comparing the two isolates what the GAN adds:
fewer migrations per fault at equal or better QoS.
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
from pregan.models.recovery.decoding import decision_point, spread
from pregan.simulation.interfaces import ClusterSpec, Observation, RecoveryDecision


class EvacuatePolicy:
    """RecoveryPolicy: every container the scheduler places on a flagged host is spread."""

    name = "evacuate"

    def __init__(self, flagger: Flagger, window: int) -> None:
        self.flagger, self.window = flagger, window

    def reset(self, spec: ClusterSpec) -> None:
        """No per-episode state: the flagger reads every input from the observation."""

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        proposal = np.asarray(proposal, dtype=np.int64)
        decision, flags, emb = classifier_verdict(self.flagger, obs, proposal)
        if obs.t < self.window or not flags.any():
            return decision
        point = decision_point(obs, proposal, flags, emb, None)
        decision.placement = spread(point, np.flatnonzero(point.movable))
        return decision


class EvacuateMethod(ClassifierMethod):
    """Fit trains PreGAN's classifier (same config, same early stopping); no GAN."""

    def __init__(
        self, name: str = "evacuate", classifier: DictConfig | None = None, **_: Any
    ) -> None:
        super().__init__(name, classifier, "conf/model/evacuate.yaml")

    def policy(self) -> EvacuatePolicy:
        classifier = self.fitted_classifier()
        return EvacuatePolicy(
            ClassifierFlagger(classifier).prepare(), window=int(classifier.hparams.window)
        )
