"""Determinism, fault damage, co-simulation fidelity and the least-full scheduler."""

from __future__ import annotations

import numpy as np
import pytest

from pregan.simulation.interfaces import FAULT_KINDS, QOS_COLUMNS, Scheduler
from pregan.simulation.least_full import LeastFullScheduler

COL = {c: i for i, c in enumerate(QOS_COLUMNS)}


def run(sim, scheduler=None):
    scheduler = scheduler or LeastFullScheduler()
    while not sim.done:
        sim.step(scheduler.place(sim.observe()))
    return sim.record()


def test_same_seed_same_trace_and_different_seed_differs(sim_factory) -> None:
    a, b = (
        run(sim_factory(3, n_hosts=4, n_intervals=25)),
        run(sim_factory(3, n_hosts=4, n_intervals=25)),
    )
    for field in ("host_metrics", "placement", "fault_truth", "fault_class", "qos"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = run(sim_factory(4, n_hosts=4, n_intervals=25))
    assert not np.array_equal(a.host_metrics, c.host_metrics)


def test_default_faults_are_common_but_not_dominant(sim_factory) -> None:
    rec = run(sim_factory(11))  # the default 16 hosts x 100 intervals
    share = (rec.fault_class > 0).mean()
    assert 0.05 < share < 0.3
    assert set(np.unique(rec.fault_class)) == set(range(len(FAULT_KINDS) + 1))
    assert (rec.fault_truth.any(-1) == (rec.fault_class > 0)).all()


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind_degrades_qos(sim_factory, kind: str) -> None:
    H, T = 4, 40
    storm = [
        {"host": h, "kind": kind, "onset": 0, "duration": T, "intensity": 0.9} for h in range(H)
    ]
    if kind == "node_crash":  # a permanent crash of every host would just stop everything
        storm = [
            {"host": h, "kind": kind, "onset": 4 * h + start, "duration": 3, "intensity": 1.0}
            for h in range(H)
            for start in (2, 20)
        ]
    clean = run(sim_factory(5, faults={"random": False}, n_hosts=H, n_intervals=T)).qos
    hurt = run(
        sim_factory(5, faults={"random": False, "scripted": storm}, n_hosts=H, n_intervals=T)
    ).qos
    # Same arrivals; with faults fewer containers finish, or they finish later.
    done_hurt, done_clean = hurt[:, COL["completed"]], clean[:, COL["completed"]]
    fewer = done_hurt.sum() < done_clean.sum()

    def mean_response(q: np.ndarray, done: np.ndarray) -> float:
        return float(np.nansum(q[:, COL["mean_response_s"]] * done) / max(done.sum(), 1))

    slower = mean_response(hurt, done_hurt) > 1.1 * mean_response(clean, done_clean)
    assert fewer or slower, (kind, done_hurt.sum(), done_clean.sum())


def test_faults_show_in_their_metric(sim_factory) -> None:
    kinds = ["cpu_overload", "memory_leak", "disk_contention", "network_saturation"]
    storm = [
        {"host": d, "kind": k, "onset": 5, "duration": 10, "intensity": 0.9}
        for d, k in enumerate(kinds)
    ]
    rec = run(
        sim_factory(2, faults={"random": False, "scripted": storm}, n_hosts=4, n_intervals=15)
    )
    for d in range(4):
        during, before = rec.host_metrics[10:15, d, d].mean(), rec.host_metrics[:5, d, d].mean()
        assert during > before + 0.2, (kinds[d], before, during)


def test_least_full_picks_the_freest_up_host(sim_factory) -> None:
    sched = LeastFullScheduler()
    assert isinstance(sched, Scheduler)
    storm = [{"host": 1, "kind": "node_crash", "onset": 0, "duration": 5, "intensity": 1.0}]
    sim = sim_factory(
        0, faults={"random": False, "scripted": storm}, n_hosts=4, n_intervals=5, arrival_scale=3
    )
    obs = sim.observe()
    p = sched.place(obs)
    assert (p[obs.needs_placement] != 1).all()
    assert (p[~obs.active] == -1).all()
    first = int(np.flatnonzero(obs.needs_placement)[0])
    free = np.where(obs.host_up, obs.host_free_mips, -np.inf)
    assert p[first] == int(np.argmax(free))


def test_crash_evicts_and_loses_progress(sim_factory) -> None:
    storm = [
        {"host": h, "kind": "node_crash", "onset": 6, "duration": 2, "intensity": 1.0}
        for h in range(4)
    ]
    sim = sim_factory(0, faults={"random": False, "scripted": storm}, n_hosts=4, n_intervals=10)
    sched = LeastFullScheduler()
    for _ in range(6):
        sim.step(sched.place(sim.observe()))
    obs = sim.observe()
    assert not obs.host_up.any()
    assert (obs.placement == -1).all() and (obs.needs_placement == obs.active).all()
    assert (sim._state.work_done[0][obs.active] == 0).all()
    row = sim.step(sched.place(obs))
    assert row[COL["energy_j"]] == 0 and row[COL["active_containers"]] == 0


@pytest.mark.parametrize("n_hosts", [50, 200, 1000])
def test_large_clusters_run(sim_factory, n_hosts: int) -> None:
    sim = sim_factory(0, n_hosts=n_hosts, n_intervals=4)
    rec = run(sim)
    assert rec.host_metrics.shape == (4, n_hosts, 4)
    assert rec.qos[:, COL["active_containers"]].max() > n_hosts / 16


def test_host_demand_is_the_placed_base_mips_over_capacity(sim_factory) -> None:
    """host_demand[t] sums the base MIPS of the containers the engine ran on each host in
    interval t over its IPS; observe() exposes the history, record() and fork() keep it."""
    sim = sim_factory(0, n_intervals=12)
    scheduler = LeastFullScheduler()
    for t in range(12):
        obs = sim.observe()
        np.testing.assert_array_equal(obs.host_demand, sim.record().host_demand)
        sim.step(scheduler.place(obs))
        ran = sim.record().placement[t]  # (C,) as executed
        on = ran >= 0
        want = np.bincount(ran[on], obs.container_mips[on], sim.spec.n_hosts) / sim.spec.host_ips
        np.testing.assert_allclose(sim.record().host_demand[t], want, rtol=1e-5)
    rec = sim.record()
    assert rec.host_demand.shape == (12, sim.spec.n_hosts) and rec.host_demand.dtype == np.float32
    assert rec.host_demand.sum() > 0
    np.testing.assert_array_equal(sim.fork().observe().host_demand, rec.host_demand)
