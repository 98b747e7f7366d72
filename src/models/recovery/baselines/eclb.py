"""ECLB: linear-extrapolated CPU overload and a cost-based target choice (PREGAN.md §4).

Next CPU is predicted as 2 x current - previous (a one-step linear extrapolation); hosts
predicted at or above `threshold` shed their minimum-migration-time container. The target
minimises the expected time the container loses: its migration time (RAM over the target's
downlink, shared with the other containers moving there in this decision, plus latency)
plus the time one interval of its work takes on the target (an interval, stretched by the
target's CPU utilisation once the container is added when that exceeds 100 %). Ties go to
the less loaded host. This stands in for the original's Bayesian choice, whose priors the
paper does not give.
"""

from __future__ import annotations

import numpy as np

from pregan.models.recovery.baselines.diagnosis import cpu_first_dim_scores
from pregan.models.recovery.baselines.method import PolicyMethod
from pregan.models.recovery.baselines.migration import migrate_mmt
from pregan.models.recovery.baselines.selection import by_priority, threshold_hosts
from pregan.simulation.interfaces import ClusterSpec, Observation, RecoveryDecision
from pregan.simulation.placement import Capacity


def extrapolate_cpu(host_metrics: np.ndarray) -> np.ndarray:
    """(H,) next CPU utilisation = 2 x last - previous (last alone with one interval)."""
    t, n_hosts = host_metrics.shape[0], host_metrics.shape[1]
    if t == 0:
        return np.zeros(n_hosts)
    last = host_metrics[-1, :, 0].astype(np.float64)
    if t == 1:
        return last
    return 2.0 * last - host_metrics[-2, :, 0].astype(np.float64)


class ExpectedDelayTarget:
    """ECLB's target rule; one instance per decision (it counts incoming migrations)."""

    def __init__(self, obs: Observation, bandwidth_mbps: float, latency_s: float) -> None:
        self.ram_mb = obs.container_ram_mb
        self.mips = obs.container_mips
        self.interval_s = float(obs.spec.interval_s)
        self.bandwidth_mbps = bandwidth_mbps
        self.latency_s = latency_s
        self.incoming = np.zeros(obs.spec.n_hosts)  # (H,) migrations into each host so far

    def __call__(self, container: int, feasible: np.ndarray, state: Capacity) -> int:
        share = self.bandwidth_mbps / (self.incoming + 1.0)  # (H,) downlink per migration
        migration_s = float(self.ram_mb[container]) / share + self.latency_s  # (H,)
        load_after = state.load + float(self.mips[container]) / state.ips  # (H,)
        execution_s = self.interval_s * np.maximum(1.0, load_after)  # (H,)
        cost = np.where(feasible, migration_s + execution_s, np.inf)
        best = np.flatnonzero(cost == cost.min())
        dst = int(best[np.argmin(load_after[best])])
        self.incoming[dst] += 1.0
        return dst


class ECLBPolicy:
    """2 x current - previous CPU -> MMT container -> minimum expected delay target."""

    def __init__(
        self,
        threshold: float = 1.0,
        bandwidth_mbps: float = 5000.0,
        latency_s: float = 0.003,
        name: str = "eclb",
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.bandwidth_mbps = bandwidth_mbps
        self.latency_s = latency_s

    def reset(self, spec: ClusterSpec) -> None:
        """Stateless between intervals: everything is read from the observed history."""

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        predicted = extrapolate_cpu(obs.host_metrics)
        selected = threshold_hosts(predicted, obs.host_up, self.threshold)
        sources = by_priority(selected, predicted)
        rule = ExpectedDelayTarget(obs, self.bandwidth_mbps, self.latency_s)
        return RecoveryDecision(
            placement=migrate_mmt(obs, proposal, sources, rule),
            host_scores=predicted.astype(np.float32),
            host_flags=selected,
            dim_scores=cpu_first_dim_scores(obs.spec.n_hosts, obs.host_metrics.shape[-1]),
        )


class ECLBMethod(PolicyMethod):
    """ECLB as a `Method` (no training)."""

    def __init__(
        self,
        name: str = "eclb",
        threshold: float = 1.0,
        bandwidth_mbps: float = 5000.0,
        latency_s: float = 0.003,
    ) -> None:
        super().__init__(ECLBPolicy(threshold, bandwidth_mbps, latency_s, name=name))
