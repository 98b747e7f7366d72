"""`none`: the scheduler alone, the lower bound every recovery method must beat."""

from __future__ import annotations

import numpy as np

from pregan.models.recovery.baselines.method import PolicyMethod
from pregan.simulation.interfaces import ClusterSpec, Observation, RecoveryDecision


class NonePolicy:
    """Enacts the scheduler's proposal unchanged and claims no detection or diagnosis."""

    def __init__(self, name: str = "none") -> None:
        self.name = name

    def reset(self, spec: ClusterSpec) -> None:
        """No state."""

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        return RecoveryDecision(placement=proposal.copy())


class NoneMethod(PolicyMethod):
    """`none` as a `Method`."""

    def __init__(self, name: str = "none") -> None:
        super().__init__(NonePolicy(name))
