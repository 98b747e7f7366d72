"""The evaluation runner's accounting: SLA over every passed deadline, diagnosis per host and
over the host x metric grid, peak memory of the recovery phase only."""

from __future__ import annotations

import resource

import numpy as np
from omegaconf import OmegaConf

from pregan.evaluation.runner import EpisodeOutcome, run_recovery_episode, score_outcomes
from pregan.simulation.interfaces import QOS_COLUMNS

COL = {c: i for i, c in enumerate(QOS_COLUMNS)}


def _outcome(T: int = 4, H: int = 2, D: int = 3) -> EpisodeOutcome:
    qos = np.zeros((T, len(QOS_COLUMNS)))
    qos[:, COL["completed"]] = [1, 1, 0, 0]
    qos[:, COL["sla_violations"]] = [0, 1, 0, 0]  # one late completion
    qos[:, COL["deadlines_due"]] = [0, 2, 1, 1]
    qos[:, COL["deadlines_missed"]] = [0, 1, 1, 1]  # + two never finished
    qos[:, COL["overdue_unfinished"]] = [0, 0, 1, 2]
    klass = np.zeros((T - 1, H), np.int64)
    truth = np.zeros((T - 1, H, D), bool)
    klass[1, 0], truth[1, 0, [0, 1]] = 2, True  # host 0: metrics 0 and 1
    klass[2, 1], truth[2, 1, 2] = 3, True  # host 1: metric 2
    scores = np.zeros((T - 1, H, D))
    scores[1, 0] = [0.5, 0.4, 0.1]  # per host right
    scores[1, 1] = [0.9, 0.0, 0.0]  # but a healthy host outranks it on the grid
    scores[2, 1] = [0.0, 0.0, 0.3]
    return EpisodeOutcome(
        seed=0,
        qos=qos,
        decision_ms=np.zeros(T),
        truth_class=klass,
        truth_dims=truth,
        dim_scores=scores,
    )


def test_sla_counts_every_passed_deadline_finished_or_not() -> None:
    out = score_outcomes([_outcome()])
    assert out["sla_violation_rate"] == 75.0  # 3 missed of 4 passed deadlines
    assert out["late_completion_rate"] == 50.0  # the old, completed-only figure
    assert out["overdue_unfinished"] == 2.0


def test_diagnosis_per_host_and_over_the_grid() -> None:
    out = score_outcomes([_outcome()])
    assert out["hitrate_100"] == 1.0 and out["ndcg_100"] == 1.0
    # Grid row 1: truth {(0,0), (0,1)}; top-2 cells are (1,0) 0.9 and (0,0) 0.5 -> 1/2.
    assert out["grid_hitrate_100"] == (0.5 + 1.0) / 2
    assert out["grid_hitrate_150"] == 1.0  # top-3 reaches (0,1)


def test_an_episode_without_a_diagnosable_fault_scores_beside_one_with() -> None:
    """A fault-free episode adds no grid rows (it crashed the grid diagnosis before)."""
    quiet = _outcome()
    quiet.truth_class[:] = 0
    quiet.truth_dims[:] = False
    out = score_outcomes([_outcome(), quiet])
    assert out["grid_hitrate_100"] == (0.5 + 1.0) / 2  # the faulty episode's rows only


def test_peak_memory_covers_the_recovery_phase_only(tmp_path) -> None:
    from pathlib import Path

    from pregan.models.recovery.baselines.none import NoneMethod
    from pregan.simulation.least_full import LeastFullScheduler

    conf = Path(__file__).resolve().parents[2] / "conf"
    cfg = OmegaConf.create(
        {
            "simulation": OmegaConf.load(conf / "simulation/default.yaml"),
            "faults": OmegaConf.load(conf / "faults/default.yaml"),
            "workload": OmegaConf.load(conf / "workload/synthetic.yaml"),
        }
    )
    cfg.simulation.n_hosts, cfg.simulation.n_intervals = 4, 5
    big = np.ones(300 * 2**20 // 8)  # ~300 MB touched "in training"
    del big
    lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    outcome = run_recovery_episode(cfg, 0, LeastFullScheduler(), NoneMethod().policy())
    assert 0 < outcome.peak_rss_mb < lifetime - 200


def test_the_oracle_diagnoses_with_the_interval_truth() -> None:
    """The runner hands the oracle the metrics each fault drove, so its per-host diagnosis
    is exact (a leak drives RAM alone until the host swaps)."""
    from pathlib import Path

    from pregan.models.recovery.baselines.oracle import OracleMethod
    from pregan.simulation.least_full import LeastFullScheduler

    conf = Path(__file__).resolve().parents[2] / "conf"
    cfg = OmegaConf.create(
        {
            "simulation": OmegaConf.load(conf / "simulation/default.yaml"),
            "faults": OmegaConf.load(conf / "faults/default.yaml"),
            "workload": OmegaConf.load(conf / "workload/synthetic.yaml"),
        }
    )
    cfg.simulation.n_hosts, cfg.simulation.n_intervals = 4, 20
    cfg.faults.random = False
    cfg.faults.scripted = [
        {"host": 1, "kind": "memory_leak", "onset": 2, "duration": 15, "intensity": 1.5}
    ]
    migrator = OmegaConf.load(conf / "migrator/gan.yaml")
    oracle = OracleMethod(migrator=migrator).policy()
    outcome = run_recovery_episode(cfg, 0, LeastFullScheduler(), oracle)
    out = score_outcomes([outcome])
    assert out["hitrate_100"] == 1.0 and out["grid_hitrate_100"] == 1.0
