"""`model=threshold`: static per-metric thresholds, chosen on validation episodes, with the
evacuation of every flagged host by the shared target rule.

The reference that shows what a learned detector adds: a host is flagged when any of its
last monitored metrics reaches that metric's threshold (or its heartbeat is gone). The
thresholds maximise, on the validation episodes, the host-level F1 of that rule (coordinate
ascent over the metrics, each free to stay off), with the decision timing of the runner
(the metrics of interval t-1 against the truth of t-1). Flagged hosts are evacuated exactly as
`model=evacuate` does (`decoding.spread`: least-loaded healthy host with room).
Diagnosis ranks a host's metrics by how far each is over its threshold; the class is the
fault kind of the most exceeded metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pregan.data.episodes import load_split
from pregan.io import write_json_atomic
from pregan.models.interfaces import FitContext
from pregan.models.recovery.decoding import decision_point, spread
from pregan.simulation.interfaces import FAULT_KINDS, ClusterSpec, Observation, RecoveryDecision
from pregan.simulation.record import METRIC_FAULT_CLASS

_CRASH = FAULT_KINDS.index("node_crash") + 1


def _f1(flags: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """F1 of each row of flags (K, N) against truth (N,)."""
    tp = (flags & truth).sum(axis=-1)
    fp = (flags & ~truth).sum(axis=-1)
    fn = truth.sum() - tp
    return 2 * tp / np.maximum(2 * tp + fp + fn, 1)


def fit_thresholds(
    metrics: list[np.ndarray],
    fault_class: list[np.ndarray],
    n_candidates: int = 200,
    rounds: int = 3,
) -> tuple[np.ndarray, float]:
    """Per-metric thresholds (D,) maximising the host-level detection F1 of "any metric at or
    above its threshold" on episodes' (T, H, D) metrics against their (T, H) fault classes,
    and that F1. Coordinate ascent from "never flag" (inf): each metric in turn takes the
    best of `n_candidates` quantiles of its values or stays off. Crashed host-intervals are
    left out: they report nothing, and the heartbeat flags them.
    """
    crash = FAULT_KINDS.index("node_crash") + 1
    keep = np.concatenate([(k != crash).ravel() for k in fault_class])  # (N,)
    m = np.concatenate([x.reshape(-1, x.shape[-1]) for x in metrics])[keep]  # (N, D)
    truth = np.concatenate([(k > 0).ravel() for k in fault_class])[keep]  # (N,)
    D = m.shape[1]
    thresholds = np.full(D, np.inf)
    qs = np.linspace(0.0, 1.0, n_candidates)
    for _ in range(rounds):
        for d in range(D):
            others = np.delete(m, d, axis=1) >= np.delete(thresholds, d)  # (N, D - 1)
            base = others.any(axis=1)  # (N,)
            cands = np.r_[np.unique(np.quantile(m[:, d], qs)), np.inf]  # (K,)
            f1 = _f1(base[None, :] | (m[None, :, d] >= cands[:, None]), truth)  # (K,)
            thresholds[d] = cands[int(np.argmax(f1))]
    flags = (m >= thresholds).any(axis=1)
    return thresholds, float(_f1(flags[None], truth)[0])


class ThresholdPolicy:
    """RecoveryPolicy: flag hosts over any metric threshold; evacuate them."""

    def __init__(self, thresholds: np.ndarray, metrics: tuple[str, ...], name: str = "threshold"):
        self.name = name
        self.thresholds = np.asarray(thresholds, dtype=np.float64)  # (D,)
        self.metrics = tuple(metrics)
        self.metric_class = np.array(
            [FAULT_KINDS.index(METRIC_FAULT_CLASS[m]) + 1 for m in self.metrics], dtype=np.int64
        )  # (D,)

    def reset(self, spec: ClusterSpec) -> None:
        if tuple(spec.metrics) != self.metrics:
            raise ValueError(
                f"threshold: fitted on metrics {list(self.metrics)}, the cluster reports "
                f"{list(spec.metrics)}"
            )

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        proposal = np.asarray(proposal, dtype=np.int64)
        H, D = obs.spec.n_hosts, len(self.metrics)
        if obs.t == 0:
            return RecoveryDecision(
                placement=proposal,
                host_scores=np.zeros(H, np.float32),
                host_flags=np.zeros(H, bool),
                dim_scores=np.zeros((H, D), np.float32),
                fault_class=np.zeros(H, np.int64),
            )
        last = obs.host_metrics[-1].astype(np.float64)  # (H, D)
        ratio = last / np.maximum(self.thresholds, 1e-9)  # (H, D), inf thresholds give 0
        down = ~obs.host_up
        flags = (last >= self.thresholds).any(axis=1) | down  # (H,)
        klass = np.where(down, _CRASH, self.metric_class[ratio.argmax(axis=1)])
        decision = RecoveryDecision(
            placement=proposal,
            host_scores=np.where(down, np.inf, ratio.max(axis=1)).clip(max=1e6).astype(np.float32),
            host_flags=flags,
            dim_scores=ratio.astype(np.float32),
            fault_class=klass.astype(np.int64),
        )
        if flags.any():
            emb = np.zeros((H, 1), np.float32)  # the target rule reads no embedding
            point = decision_point(obs, proposal, flags, emb, None)
            on_flagged = (proposal >= 0) & flags[np.clip(proposal, 0, None)]  # (C,)
            decision.placement = spread(point, np.flatnonzero(on_flagged))
        return decision


class ThresholdMethod:
    """Fit chooses the thresholds on the validation split; nothing is trained."""

    def __init__(self, name: str = "threshold", n_candidates: int = 200, **_: Any) -> None:
        if n_candidates < 2:
            raise ValueError(
                f"conf/model/threshold.yaml: n_candidates must be >= 2, got {n_candidates}"
            )
        self.name, self.n_candidates = name, int(n_candidates)
        self._policy: ThresholdPolicy | None = None
        self._artifacts: dict[str, Path] = {}

    def fit(self, ctx: FitContext) -> dict[str, float]:
        records = load_split(ctx.val_dir)
        names = records[0].metrics
        thresholds, f1 = fit_thresholds(
            [r.host_metrics for r in records], [r.fault_class for r in records], self.n_candidates
        )
        self._policy = ThresholdPolicy(thresholds, names, self.name)
        out = Path(ctx.output_dir) / "thresholds.json"
        write_json_atomic(
            out,
            {
                "val_f1": f1,
                "thresholds": {
                    m: float(t) if np.isfinite(t) else None
                    for m, t in zip(names, thresholds, strict=True)
                },
            },
        )
        self._artifacts["thresholds"] = out
        return {"val/threshold_f1": f1}

    def policy(self) -> ThresholdPolicy:
        if self._policy is None:
            raise RuntimeError("ThresholdMethod.policy(): call fit() first")
        return self._policy

    def artifacts(self) -> dict[str, Path]:
        return dict(self._artifacts)
