"""Determinism, fault damage, co-simulation fidelity and the least-full scheduler."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pregan.simulation.config import ConfigError, simulation_from_dictconfig
from pregan.simulation.interfaces import FAULT_KINDS, QOS_COLUMNS, Scheduler
from pregan.simulation.least_full import LeastFullScheduler
from pregan.simulation.workload_bank import WorkloadBank

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


def io_heavy_bank(make_bank, seed: int = 0) -> WorkloadBank:
    """The test bank with 30x its disk and network demand: containers that feel I/O faults."""
    b = make_bank(seed)
    return dataclasses.replace(
        b,
        disk_read_mbps=b.disk_read_mbps * 30,
        disk_write_mbps=b.disk_write_mbps * 30,
        net_rx_mbps=b.net_rx_mbps * 30,
        net_tx_mbps=b.net_tx_mbps * 30,
        source="tests:io-heavy",
    )


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind_degrades_qos(sim_factory, bank_factory, kind: str) -> None:
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
    if kind == "memory_leak":  # a leak hurts once it pushes the host into swap
        storm = [{**f, "intensity": 1.3} for f in storm]
    # Disk and network faults slow a container by its own I/O demand: I/O-heavy containers.
    bank = (
        io_heavy_bank(bank_factory, 5)
        if kind in ("disk_contention", "network_saturation")
        else None
    )
    kw = {"bank": bank, "n_hosts": H, "n_intervals": T, "load": 1.0}
    clean = run(sim_factory(5, faults={"random": False}, **kw)).qos
    hurt = run(sim_factory(5, faults={"random": False, "scripted": storm}, **kw)).qos
    # Same arrivals; with faults fewer containers finish, or they finish later.
    done_hurt, done_clean = hurt[:, COL["completed"]], clean[:, COL["completed"]]
    fewer = done_hurt.sum() < done_clean.sum()

    def mean_response(q: np.ndarray, done: np.ndarray) -> float:
        return float(np.nansum(q[:, COL["mean_response_s"]] * done) / max(done.sum(), 1))

    slower = mean_response(hurt, done_hurt) > 1.1 * mean_response(clean, done_clean)
    assert fewer or slower, (kind, done_hurt.sum(), done_clean.sum())


def test_io_fault_spares_containers_that_do_little_io(sim_factory, bank_factory) -> None:
    """A 0.95 disk hog barely slows containers doing almost no disk I/O (no fixed shares)."""
    H, T = 4, 30
    storm = [
        {"host": h, "kind": "disk_contention", "onset": 0, "duration": T, "intensity": 0.95}
        for h in range(H)
    ]
    b = bank_factory(6)
    light = dataclasses.replace(
        b,
        disk_read_mbps=np.full_like(b.disk_read_mbps, 0.003),
        disk_write_mbps=np.zeros_like(b.disk_write_mbps),
    )
    kw = {"bank": light, "n_hosts": H, "n_intervals": T, "load": 1.0}
    clean = run(sim_factory(6, faults={"random": False}, **kw))
    hurt = run(sim_factory(6, faults={"random": False, "scripted": storm}, **kw))
    done = clean.qos[:, COL["completed"]].sum()
    assert hurt.qos[:, COL["completed"]].sum() == done > 0
    r_clean = np.nansum(clean.qos[:, COL["mean_response_s"]] * clean.qos[:, COL["completed"]])
    r_hurt = np.nansum(hurt.qos[:, COL["mean_response_s"]] * hurt.qos[:, COL["completed"]])
    assert r_hurt < 1.02 * r_clean


def test_faults_show_in_their_metrics_with_second_order_effects(sim_factory) -> None:
    kinds = ["cpu_overload", "memory_leak", "disk_contention", "network_saturation"]
    storm = [
        {"host": d, "kind": k, "onset": 5, "duration": 10, "intensity": 0.9}
        for d, k in enumerate(kinds)
    ]
    storm[1]["intensity"] = 1.4  # a leak that ends in swap
    sim = sim_factory(2, faults={"random": False, "scripted": storm}, n_hosts=4, n_intervals=15)
    rec = run(sim)
    col = {m: i for i, m in enumerate(rec.metrics)}
    first = {"cpu_overload": "cpu", "memory_leak": "ram", "disk_contention": "disk_read",
             "network_saturation": "net_in"}  # fmt: skip
    for h, kind in enumerate(kinds):
        m = col[first[kind]]
        during, before = rec.host_metrics[10:15, h, m].mean(), rec.host_metrics[:5, h, m].mean()
        assert during > before + 0.2, (kind, before, during)
    truth = rec.fault_truth
    names = np.array(rec.metrics)
    # Root-cause sets: one metric for a CPU hog, several where the fault spreads.
    assert set(names[truth[10, 0]]) == {"cpu"}
    assert {"ram", "swap", "disk_read", "disk_write", "cpu_iowait"} <= set(names[truth[14, 1]])
    assert set(names[truth[5, 1]]) == {"ram"}  # before it swaps, a leak drives RAM only
    assert set(names[truth[10, 2]]) == {"disk_read", "disk_write", "cpu_iowait"}
    assert set(names[truth[10, 3]]) == {"net_in", "net_out", "cpu_softirq"}
    assert not truth[:5].any()
    iowait = col["cpu_iowait"]
    assert rec.host_metrics[10:15, 2, iowait].mean() > rec.host_metrics[:5, 2, iowait].mean() + 0.1


def test_original_metric_option(sim_factory) -> None:
    rec = run(sim_factory(2, n_hosts=4, n_intervals=10, metrics=["cpu", "ram", "disk"]))
    assert rec.host_metrics.shape == (10, 4, 3) and rec.metrics == ("cpu", "ram", "disk")
    assert rec.fault_truth.shape == (10, 4, 3)


def test_migration_moves_memory_and_image_over_1gbe(sim_factory, bank_factory) -> None:
    """A move pauses the container for (RAM + image + state) / the NIC + dump/restore; two
    moves out of one host share its uplink."""
    b = bank_factory(8)
    small = dataclasses.replace(b, cpu_mips=b.cpu_mips * 0.1, cpu_max_mips=b.cpu_max_mips * 0.1)
    sim = sim_factory(8, faults={"random": False}, bank=small, n_hosts=4, n_intervals=8, load=4.0)
    for _ in range(3):
        sim.step(np.where(sim.observe().active, 0, -1))  # everything on host 0
    obs = sim.observe()
    movers = np.flatnonzero(obs.active & (obs.placement == 0))[:2]
    assert len(movers) == 2
    st = sim._state
    payload = obs.container_ram_mb[movers] + st.image_mb[0, movers] + st.disk_mb[0, movers]
    target = obs.placement.copy()
    target[movers[0]] = 1
    row = sim.fork().step(target)
    nic_mb_s = 940.0 / 8.0  # 1 GbE, Mb/s -> MB/s
    assert row[COL["migrations"]] == 1
    # The containers' own traffic leaves a little less than the whole NIC: within 5 %.
    want = payload[0] / nic_mb_s + 1.0  # + dump/restore overhead
    assert row[COL["mean_migration_s"]] == pytest.approx(want, rel=0.05)
    target[movers[1]] = 2
    row2 = sim.fork().step(target)
    assert row2[COL["migrations"]] == 2
    shared = (payload / (nic_mb_s / 2) + 1.0).mean()  # the source's uplink is shared
    assert row2[COL["mean_migration_s"]] == pytest.approx(shared, rel=0.05)


def test_default_load_keeps_the_queue_bounded(sim_factory) -> None:
    """Fault-free, 1,000 intervals at the default load: no upward queue trend over the
    second half; the original's arrival draws (load=None) pile up instead."""
    q = COL["queued_containers"]
    stable = run(sim_factory(9, faults={"random": False}, n_intervals=1000)).qos[:, q]
    half = stable[500:]
    slope = np.polyfit(np.arange(half.size), half, 1)[0]  # containers per interval
    assert slope * half.size < 2.0 and half.mean() < 3.0, (slope, half.mean())
    over = run(sim_factory(9, faults={"random": False}, n_intervals=200, load=None)).qos[:, q]
    assert over[100:].mean() > 10 * max(stable.mean(), 0.1)


def test_bad_load_is_refused(cfg_factory) -> None:
    cfg = cfg_factory(load=-1.0)
    with pytest.raises(ConfigError, match=r"simulation.load must be > 0, got -1.0"):
        simulation_from_dictconfig(cfg.simulation)


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
    sim = sim_factory(
        0, faults={"random": False, "scripted": storm}, n_hosts=4, n_intervals=10, load=None
    )
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
    assert rec.host_metrics.shape == (4, n_hosts, len(rec.metrics))
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
