"""A ClusterBatch row reproduces the single-cluster Simulator of its seed exactly.

The vector environment's throughput rests on stepping B independent clusters in one engine
call; the study's numbers rest on the single Simulator. Both hold only if row b of a batch
is bit for bit the episode a Simulator of seed b runs, for any placements.
"""

from __future__ import annotations

import numpy as np

from pregan.simulation.batch import ClusterBatch, ClusterView, plan_episode
from pregan.simulation.config import faults_from_dictconfig, simulation_from_dictconfig
from pregan.simulation.hosts import build_hosts
from pregan.simulation.least_full import LeastFullScheduler
from pregan.simulation.placement import Capacity, demand_matrix, most_free_mips, relocate
from pregan.simulation.simulator import Simulator

# Crashes, leaks and hogs on a busy 5-host cluster, so eviction, swapping and queueing occur.
FAULTS = {
    "scripted": [
        {"host": 1, "kind": "node_crash", "onset": 3, "duration": 3, "intensity": 1.0},
        {"host": 2, "kind": "memory_leak", "onset": 2, "duration": 8, "intensity": 1.3},
        {"host": 0, "kind": "cpu_overload", "onset": 5, "duration": 4, "intensity": 0.8},
    ]
}


def _configs(cfg_factory):
    from omegaconf import OmegaConf

    cfg = cfg_factory(n_hosts=5, n_intervals=16, load=1.5)
    cfg.faults = OmegaConf.merge(cfg.faults, FAULTS)
    sim_cfg = simulation_from_dictconfig(cfg.simulation)
    return sim_cfg, faults_from_dictconfig(cfg.faults, sim_cfg.n_hosts)


def test_batch_rows_equal_single_simulators(cfg_factory, bank_factory) -> None:
    sim_cfg, faults_cfg = _configs(cfg_factory)
    hosts = build_hosts(sim_cfg)
    seeds = [3, 8, 3, 21]  # a repeated seed shares its plan and bank
    banks = {s: bank_factory(s) for s in set(seeds)}
    plans = {s: plan_episode(sim_cfg, faults_cfg, hosts, banks[s], s) for s in set(seeds)}
    batch = ClusterBatch(sim_cfg, faults_cfg, [plans[s] for s in seeds])
    sims = [Simulator(sim_cfg, faults_cfg, banks[s], s) for s in seeds]  # drawn afresh
    sched = LeastFullScheduler()
    rng = np.random.default_rng(0)
    H = sim_cfg.n_hosts
    while not batch.done:
        view = batch.view()
        proposal = sched.place_batch(view)  # (B, C)
        # Random moves in some rows on top of the scheduler: migrations, refusals, waiting.
        moves = rng.integers(-1, H, proposal.shape)
        target = np.where(rng.random(proposal.shape) < 0.3, moves, proposal)
        for b, sim in enumerate(sims):
            obs = sim.observe()
            single = batch.observation(b)
            for name in ("placement", "host_free_mips", "host_free_ram_mb", "container_mips",
                         "needs_placement", "host_up"):  # fmt: skip
                np.testing.assert_array_equal(getattr(obs, name), getattr(single, name))
            np.testing.assert_array_equal(obs.host_metrics, single.host_metrics)
            np.testing.assert_array_equal(sched.place(obs), proposal[b])
        rows = batch.step(target)
        for b, sim in enumerate(sims):
            np.testing.assert_array_equal(sim.step(target[b]), rows[b])
            np.testing.assert_array_equal(sim.fault_class_now(), batch.fault_class_now()[b])
    for b, sim in enumerate(sims):
        record = sim.record()
        np.testing.assert_array_equal(record.host_metrics, batch._metrics[b])
        np.testing.assert_array_equal(record.placement, batch._placement[b])
    # The repeated seed ran the same placements only where the random moves agreed; its
    # rows still each match their own simulator, and the schedule crashed host 1.
    assert (batch._kind[:, 3:6, 1] == 5).all()
    assert np.nansum(batch._qos[..., 4]) > 0  # some migrations happened


def test_batched_least_full_is_the_greedy_relocation(sim_factory) -> None:
    """place_batch equals the generic greedy relocation with the most-free-MIPS rule, on
    clusters with waiting containers (a crash evicts, a burst of arrivals queues)."""
    sched = LeastFullScheduler()
    checked = 0
    for seed in (1, 2):
        sim = sim_factory(seed, faults=FAULTS, n_hosts=5, n_intervals=16, load=2.0)
        while not sim.done:
            obs = sim.observe()
            placement = np.where(obs.active, obs.placement, -1).astype(np.int64)
            want = relocate(
                placement,
                np.flatnonzero(obs.needs_placement),
                demand_matrix(obs),
                Capacity.under_proposal(obs, placement),
                most_free_mips,
            )
            got = sched.place_batch(ClusterView.of(obs))[0]
            np.testing.assert_array_equal(got, want)
            checked += int(obs.needs_placement.sum())
            sim.step(got)
    assert checked > 10


def test_restarted_batch_equals_a_fresh_one_and_keeps_only_its_banks(
    cfg_factory, bank_factory
) -> None:
    sim_cfg, faults_cfg = _configs(cfg_factory)
    hosts = build_hosts(sim_cfg)

    def plans(seeds: list[int]) -> list:
        return [plan_episode(sim_cfg, faults_cfg, hosts, bank_factory(s), s) for s in seeds]

    reused = ClusterBatch(sim_cfg, faults_cfg, plans([1, 2, 3]))
    for _ in range(4):
        reused.step(LeastFullScheduler().place_batch(reused.view()))
    second = plans([4, 5])
    reused.start(second)
    fresh = ClusterBatch(sim_cfg, faults_cfg, second)
    assert len(reused._banks) == 2  # the banks of seeds 1-3 are no longer held
    sched = LeastFullScheduler()
    while not fresh.done:
        np.testing.assert_array_equal(reused.step(sched.place_batch(reused.view())),
                                      fresh.step(sched.place_batch(fresh.view())))  # fmt: skip
    np.testing.assert_array_equal(reused._metrics, fresh._metrics)


def test_simulator_rejects_another_episodes_plan(cfg_factory, bank_factory) -> None:
    import pytest

    sim_cfg, faults_cfg = _configs(cfg_factory)
    bank = bank_factory(3)
    plan = plan_episode(sim_cfg, faults_cfg, build_hosts(sim_cfg), bank, 8)
    with pytest.raises(ValueError, match="not episode 3"):
        Simulator(sim_cfg, faults_cfg, bank, 3, plan=plan)
