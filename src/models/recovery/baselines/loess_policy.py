"""The recovery policy PCFT and DFTM share: LOESS-predicted CPU overload triggers migration.

Each host's next CPU utilisation is predicted by LOESS over its last `window` values; hosts
whose `headroom` x prediction reaches 100 % are treated as about to fail, and each sheds its
minimum-migration-time container to a target chosen by `target`. Until a full window exists,
hosts above `warmup_threshold` of their CPU are selected instead. PCFT and DFTM differ only in
the budget (`max_fraction`) and the target rule, so they configure this one class.
"""

from __future__ import annotations

import numpy as np

from pregan.models.recovery.baselines.diagnosis import cpu_first_dim_scores
from pregan.models.recovery.baselines.loess import predict_next_cpu
from pregan.models.recovery.baselines.migration import migrate_mmt
from pregan.models.recovery.baselines.selection import by_priority, threshold_hosts
from pregan.simulation.interfaces import ClusterSpec, Observation, RecoveryDecision
from pregan.simulation.placement import TargetRule, least_loaded


class LoessMigrationPolicy:
    """LOESS-predicted CPU overload -> MMT container -> target rule."""

    def __init__(
        self,
        window: int = 10,
        span: float = 0.6,
        headroom: float = 1.2,
        warmup_threshold: float = 0.7,
        max_fraction: float | None = None,
        target: TargetRule = least_loaded,
        name: str = "pcft",
    ) -> None:
        self.name = name
        self.window = window
        self.span = span
        self.headroom = headroom
        self.warmup_threshold = warmup_threshold
        self.max_fraction = max_fraction
        self.target = target

    def reset(self, spec: ClusterSpec) -> None:
        """Stateless between intervals: everything is read from the observed history."""

    def select(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        """(predicted CPU (H,), selected hosts in priority order (S,))."""
        predicted, ready = predict_next_cpu(obs.host_metrics, self.window, self.span)
        if ready:
            selected = threshold_hosts(predicted, obs.host_up, 1.0, self.headroom)
        else:
            selected = obs.host_up & (predicted > self.warmup_threshold)
        limit = None
        if self.max_fraction is not None:
            limit = max(1, int(self.max_fraction * obs.spec.n_hosts))
        return predicted, by_priority(selected, predicted, limit)

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        predicted, sources = self.select(obs)
        flags = np.zeros(obs.spec.n_hosts, dtype=bool)
        flags[sources] = True
        return RecoveryDecision(
            placement=migrate_mmt(obs, proposal, sources, self.target),
            host_scores=predicted.astype(np.float32),
            host_flags=flags,
            dim_scores=cpu_first_dim_scores(obs.spec.n_hosts, obs.host_metrics.shape[-1]),
        )
