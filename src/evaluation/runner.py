"""Runs a recovery method through live simulated episodes and scores what it did.

Every method (PreGAN, the baselines, none, oracle) goes through this one loop, so decision
time, QoS and the detection/diagnosis/classification implied by its decisions are measured
the same way for all of them. The decision time includes the method's own model inference
(the original left PreGAN's model time out of it).
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pregan.evaluation import metrics as M
from pregan.simulation.interfaces import FAULT_KINDS, QOS_COLUMNS, RecoveryPolicy, Scheduler

_CRASH = FAULT_KINDS.index("node_crash") + 1


@dataclass
class EpisodeOutcome:
    """What one test episode recorded, interval by interval."""

    seed: int
    qos: np.ndarray  # (T, Q) per-interval QoS rows, QOS_COLUMNS order
    decision_ms: np.ndarray  # (T,) wall time of the recovery decision per interval
    truth_class: np.ndarray  # (T, H) fault class of the interval each decision could see
    truth_dims: np.ndarray  # (T, H, D) root-cause dims of that interval
    host_flags: np.ndarray | None = None  # (T, H) bool
    host_scores: np.ndarray | None = None  # (T, H) float
    dim_scores: np.ndarray | None = None  # (T, H, D) float
    fault_class: np.ndarray | None = None  # (T, H) int
    peak_rss_mb: float = 0.0  # peak resident memory while this episode ran (recovery only)
    extras: dict[str, Any] = field(default_factory=dict)


def _stack(rows: list[np.ndarray | None]) -> np.ndarray | None:
    """Stack per-interval fields; a method that never reports a field yields None (absent)."""
    if any(r is None for r in rows):
        return None
    return np.stack(rows)


_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so the next reading covers what follows
    only (Linux: writing 5 to /proc/self/clear_refs). False where that is not possible."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb(since_reset: bool) -> float:
    """Peak resident memory in MB since the last reset (VmHWM); without a reset, the
    process's lifetime peak (getrusage), which then includes training."""
    if since_reset:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0  # kB -> MB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_recovery_episode(
    cfg: Any, seed: int, scheduler: Scheduler, policy: RecoveryPolicy
) -> EpisodeOutcome:
    """Simulate one seeded episode with `policy` overriding `scheduler`; record everything.

    The decision at the start of interval t sees intervals 0..t-1 and is scored against the
    ground truth of interval t-1, the last one its window shows. Interval 0 has no history
    and is not scored for detection.
    """
    reset = _reset_peak_rss()
    sim = open_backend(cfg, seed)
    policy.reset(sim.spec)
    # The oracle alone is handed the truth; a policy that co-simulates (PreGAN with
    # model.online=true) is handed `sim.cosimulator`, which builds a snapshot of the container
    # state under the fault estimate the policy passes, never the simulator's schedule.
    if (attach_truth := getattr(policy, "attach_ground_truth", None)) is not None:
        attach_truth(sim.fault_class_now)
        if (attach_faults := getattr(policy, "attach_true_faults", None)) is not None:
            attach_faults(sim.true_faults)  # the oracle's planner co-simulates the true faults
    if (attach_root_cause := getattr(policy, "attach_root_cause", None)) is not None:
        attach_root_cause(sim.fault_truth_now)
    if (attach_cosim := getattr(policy, "attach_cosimulator", None)) is not None:
        attach_cosim(sim.cosimulator)
    qos_rows, times = [], []
    flags, scores, dims, classes = [], [], [], []
    while not sim.done:
        obs = sim.observe()
        proposal = scheduler.place(obs)
        start = time.perf_counter()
        decision = policy.decide(obs, proposal)
        times.append((time.perf_counter() - start) * 1e3)
        qos_rows.append(sim.step(decision.placement))
        flags.append(decision.host_flags)
        scores.append(decision.host_scores)
        dims.append(decision.dim_scores)
        classes.append(decision.fault_class)
    record = sim.record()
    extras = backend_extras(sim)
    # Decision t is judged against interval t-1; drop interval 0, which has no history.
    truth_class = record.fault_class[:-1].astype(np.int64)  # (T-1, H)
    truth_dims = record.fault_truth[:-1]  # (T-1, H, D)
    return EpisodeOutcome(
        seed=seed,
        qos=np.asarray(qos_rows, dtype=np.float64),
        decision_ms=np.asarray(times),
        truth_class=truth_class,
        truth_dims=truth_dims,
        host_flags=None if (s := _stack(flags[1:])) is None else s.astype(bool),
        host_scores=_stack(scores[1:]),
        dim_scores=_stack(dims[1:]),
        fault_class=_stack(classes[1:]),
        peak_rss_mb=_peak_rss_mb(reset),
        extras=extras,
    )


# ---- backend hook (issue 19): `backend=sim` (default) or `backend=testbed` -------------------


def open_backend(cfg: Any, seed: int) -> Any:
    """The cluster an episode runs on: the simulator, or the live test bed (same interface;
    the test bed removes its pods when its episode ends, or at exit if the episode failed)."""
    backend = cfg.get("backend") or {}
    if backend.get("name", "sim") == "testbed":
        from pregan.testbed.backend import TestbedBackend

        return TestbedBackend.from_config(cfg, seed)
    from pregan.simulation.simulator import Simulator

    return Simulator.from_config(cfg, seed)


def backend_extras(sim: Any) -> dict[str, Any]:
    """A live episode's migration log (pauses, bytes, failures); closes the test bed."""
    if not hasattr(sim, "migrations"):
        return {}
    moves = sim.migrations
    extras = {
        "migration_pause_s": [m.pause_s for m in moves if m.ok],
        "migration_mb": [m.bytes_moved / 2**20 for m in moves if m.ok],
        "failed_migrations": [
            f"t={m.t} slot={m.slot} {m.src}->{m.dst}: {m.error}" for m in moves if not m.ok
        ],
        "workers_killed": int(sim.killed),
        "interval_wall_s": list(sim.wall_s),
    }
    sim.close()
    return extras


def _backend_metrics(outcomes: list[EpisodeOutcome]) -> dict[str, float]:
    """Test-bed figures (absent on the simulator): migration MB and failed migrations."""
    if not all("migration_mb" in o.extras for o in outcomes):
        return {}
    mb = [x for o in outcomes for x in o.extras["migration_mb"]]
    return {
        "migration_mb": float(np.mean(mb)) if mb else float("nan"),
        "failed_migrations": float(sum(len(o.extras["failed_migrations"]) for o in outcomes)),
        "workers_killed": float(sum(o.extras["workers_killed"] for o in outcomes)),
    }


def _qos_metrics(outcomes: list[EpisodeOutcome]) -> dict[str, float]:
    col = {name: i for i, name in enumerate(QOS_COLUMNS)}
    qos = np.concatenate([o.qos for o in outcomes])  # (sum T, Q)
    completed = qos[:, col["completed"]]
    n_done = completed.sum()

    def weighted(name: str, weight: np.ndarray) -> float:
        values = qos[:, col[name]]
        ok = np.isfinite(values) & (weight > 0)
        return (
            float((values[ok] * weight[ok]).sum() / weight[ok].sum()) if ok.any() else float("nan")
        )

    migrations = qos[:, col["migrations"]]
    due = qos[:, col["deadlines_due"]].sum()
    return {
        "energy_kj": float(np.mean([o.qos[:, col["energy_j"]].sum() / 1e3 for o in outcomes])),
        "mean_response_s": weighted("mean_response_s", completed),
        # Over every container whose deadline passed within the episode, finished or not:
        # a method that leaves late containers unfinished gains nothing by it.
        "sla_violation_rate": float(100.0 * qos[:, col["deadlines_missed"]].sum() / max(due, 1)),
        "overdue_unfinished": float(
            np.mean([o.qos[-1, col["overdue_unfinished"]] for o in outcomes])
        ),
        "late_completion_rate": float(100.0 * qos[:, col["sla_violations"]].sum() / max(n_done, 1)),
        "completed": float(np.mean([o.qos[:, col["completed"]].sum() for o in outcomes])),
        "migrations": float(np.mean([o.qos[:, col["migrations"]].sum() for o in outcomes])),
        "mean_migration_s": weighted("mean_migration_s", migrations),
        "mean_wait_intervals": float(np.nanmean(qos[:, col["mean_wait_intervals"]])),
        "decision_ms": float(np.mean(np.concatenate([o.decision_ms for o in outcomes]))),
        "peak_memory_mb": float(max(o.peak_rss_mb for o in outcomes)),
    }


def _detection_metrics(outcomes: list[EpisodeOutcome]) -> dict[str, float]:
    out: dict[str, float | None] = {}
    labels, groups = M.flatten_host_grids([o.truth_class > 0 for o in outcomes])  # (N,), (N,)
    if all(o.host_flags is not None for o in outcomes):
        flags, _ = M.flatten_host_grids([o.host_flags for o in outcomes])
        out.update(M.detection_metrics(labels, flags))
        # Point adjustment runs along time within each host of each episode.
        out["f1_pa"] = M.point_adjusted_f1(labels, flags, groups)
    if all(o.host_scores is not None for o in outcomes):
        scores, _ = M.flatten_host_grids([o.host_scores for o in outcomes])
        out["roc_auc"] = M.roc_auc(labels, scores)
    if all(o.dim_scores is not None for o in outcomes):
        out.update(_diagnosis_metrics(outcomes))
    if all(o.fault_class is not None for o in outcomes):
        true = np.concatenate([o.truth_class.reshape(-1) for o in outcomes])
        pred = np.concatenate([o.fault_class.reshape(-1) for o in outcomes])
        out["class_accuracy"] = M.classification_accuracy(true, pred)
    migrations = sum(o.qos[:, QOS_COLUMNS.index("migrations")].sum() for o in outcomes)
    n_faults = len(M.label_runs(labels, groups))
    out["migrations_per_fault"] = float(migrations / max(n_faults, 1))
    return {k: float(v) for k, v in out.items() if v is not None}


def _diagnosis_metrics(outcomes: list[EpisodeOutcome]) -> dict[str, float | None]:
    """HitRate/NDCG@100 % and @150 % of the root-cause rankings, twice:

    - per host (`hitrate_100`, ...): each faulty host-interval ranks its own D metrics;
    - over the grid (`grid_hitrate_100`, ...): each faulty interval ranks the cluster's whole
      H x D host-metric grid (which host and which metric), scores as reported.
    Crashed hosts are left out of both: a crash's root cause is every metric (any ranking
    hits it) and the heartbeat already shows it; in the grid their cells cannot be picked.
    """
    out: dict[str, float | None] = {}
    mask = [(o.truth_class > 0) & (o.truth_class != _CRASH) for o in outcomes]
    scores = np.concatenate([o.dim_scores[m] for o, m in zip(outcomes, mask, strict=True)])
    truth = np.concatenate([o.truth_dims[m] for o, m in zip(outcomes, mask, strict=True)])
    if len(truth):
        for p in (100, 150):
            out[f"hitrate_{p}"] = M.hit_rate_at(scores, truth, p)
            out[f"ndcg_{p}"] = M.ndcg_at(scores, truth, p)
    grid_scores, grid_truth = [], []
    for o, m in zip(outcomes, mask, strict=True):
        crash = (o.truth_class == _CRASH)[..., None]  # (T, H, 1)
        raw = o.dim_scores.astype(np.float64)  # (T, H, D)
        sc = np.where(crash, raw.min(initial=0.0) - 1.0, raw)  # crashed cells rank last
        tr = o.truth_dims & m[..., None]  # (T, H, D)
        rows = tr.any(axis=(1, 2))  # (T,) intervals with a diagnosable fault
        n_rows, n_cells = int(rows.sum()), tr.shape[1] * tr.shape[2]  # N may be 0
        grid_scores.append(sc[rows].reshape(n_rows, n_cells))  # (N, H * D)
        grid_truth.append(tr[rows].reshape(n_rows, n_cells))
    g_truth = np.concatenate(grid_truth)
    if len(g_truth):
        g_scores = np.concatenate(grid_scores)
        for p in (100, 150):
            out[f"grid_hitrate_{p}"] = M.hit_rate_at(g_scores, g_truth, p)
            out[f"grid_ndcg_{p}"] = M.ndcg_at(g_scores, g_truth, p)
    return out


def score_outcomes(outcomes: list[EpisodeOutcome]) -> dict[str, float]:
    """QoS plus the detection, diagnosis and classification the decisions imply.

    A figure a method has no notion of (e.g. classes for a CPU-only baseline) is left out,
    never reported as zero.
    """
    if not outcomes:
        raise ValueError("score_outcomes: no episodes to score")
    return {**_qos_metrics(outcomes), **_detection_metrics(outcomes), **_backend_metrics(outcomes)}
