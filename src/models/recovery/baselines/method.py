"""A `Method` around a recovery policy that learns nothing (the heuristic baselines)."""

from __future__ import annotations

from pathlib import Path

from pregan.models.interfaces import FitContext
from pregan.simulation.interfaces import RecoveryPolicy


class PolicyMethod:
    """Fit is a no-op; the policy is ready as constructed."""

    def __init__(self, policy: RecoveryPolicy) -> None:
        self._policy = policy
        self.name = policy.name

    def fit(self, ctx: FitContext) -> dict[str, float]:
        """Nothing to learn: heuristics have no training phase."""
        return {}

    def policy(self) -> RecoveryPolicy:
        return self._policy

    def artifacts(self) -> dict[str, Path]:
        return {}
