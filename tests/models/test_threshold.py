"""model=threshold: per-metric thresholds chosen on validation episodes, evacuation of flagged
hosts with the shared target rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from pregan.data.episodes import episode_name, save_episode, write_manifest
from pregan.models.interfaces import FitContext
from pregan.models.recovery.decoding import decision_point
from pregan.models.recovery.threshold import ThresholdMethod, fit_thresholds
from pregan.simulation.least_full import LeastFullScheduler
from pregan.simulation.simulator import Simulator


def test_thresholds_separate_and_leave_useless_metrics_off() -> None:
    rng = np.random.default_rng(0)
    T, H = 200, 4
    klass = np.zeros((T, H), np.int64)
    klass[50:80, 1] = 3  # a disk fault on host 1
    m = rng.uniform(0.0, 0.2, (T, H, 3))  # (cpu, disk, swap)
    m[50:80, 1, 1] = rng.uniform(0.6, 0.9, 30)  # the disk metric shows it
    thresholds, f1 = fit_thresholds([m], [klass], 100)
    assert 0.15 < thresholds[1] <= 0.6 and f1 > 0.9
    assert np.isinf(thresholds[0]) and np.isinf(thresholds[2])  # noise never helps


def _cfg():
    from pathlib import Path

    conf = Path(__file__).resolve().parents[2] / "conf"
    cfg = OmegaConf.create(
        {
            "simulation": OmegaConf.load(conf / "simulation/default.yaml"),
            "faults": OmegaConf.load(conf / "faults/default.yaml"),
            "workload": OmegaConf.load(conf / "workload/synthetic.yaml"),
        }
    )
    cfg.simulation.n_hosts, cfg.simulation.n_intervals, cfg.simulation.load = 6, 60, 1.0
    return cfg


def test_fit_on_validation_then_flag_and_evacuate(tmp_path) -> None:
    cfg = _cfg()
    sim = Simulator.from_config(cfg, 100)
    while not sim.done:
        sim.step(LeastFullScheduler().place(sim.observe()))
    save_episode(sim.record(), tmp_path / "val" / episode_name(100))
    write_manifest(
        tmp_path / "val",
        seeds=[100],
        config={},
        profile_names=sim.spec.profile_names,
        metrics=sim.spec.metrics,
    )
    method = ThresholdMethod()
    ctx = FitContext(tmp_path / "train", tmp_path / "val", tmp_path, 0, None, [], cfg)
    metrics = method.fit(ctx)
    saved = json.loads((tmp_path / "thresholds.json").read_text())
    assert metrics["val/threshold_f1"] == saved["val_f1"] > 0.5
    assert set(saved["thresholds"]) == set(sim.spec.metrics)
    policy = method.policy()

    # A disk hog on host 2 from interval 5: flagged from interval 6 on, and evacuated.
    cfg.faults.random = False
    cfg.faults.scripted = [
        {"host": 2, "kind": "disk_contention", "onset": 5, "duration": 20, "intensity": 0.9}
    ]
    live = Simulator.from_config(cfg, 7)
    policy.reset(live.spec)
    sched = LeastFullScheduler()
    flagged_at, moved = [], False
    while not live.done:
        obs = live.observe()
        proposal = sched.place(obs)
        decision = policy.decide(obs, proposal)
        if decision.host_flags[2]:
            flagged_at.append(obs.t)
            stayed = np.flatnonzero(obs.active & (decision.placement == 2))
            if stayed.size:  # spread leaves a container only where no healthy host has room
                point = decision_point(obs, proposal, decision.host_flags, np.zeros((6, 1)), None)
                room = (point.capacity.free[None] >= point.demand[stayed, None]).all(-1)
                assert not (room & point.capacity.up & ~decision.host_flags).any()
            moved |= bool((obs.active & (proposal == 2)).any())
            names = np.array(live.spec.metrics)
            top = set(names[np.argsort(-decision.dim_scores[2])[:2]])
            if obs.t <= 25:  # while the disk hog (intervals 5-24) is what the window shows
                assert top <= {"disk_read", "disk_write", "cpu_iowait"}
        live.step(decision.placement)
    assert flagged_at and min(flagged_at) == 6 and moved


def test_refuses_another_metric_set(tmp_path) -> None:
    from pregan.models.recovery.threshold import ThresholdPolicy

    policy = ThresholdPolicy(np.ones(3), ("cpu", "ram", "disk"))
    spec = Simulator.from_config(_cfg(), 0).spec
    with pytest.raises(ValueError, match="fitted on metrics"):
        policy.reset(spec)
