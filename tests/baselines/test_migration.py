import numpy as np

from pregan.models.recovery.baselines.migration import containers_on, mmt_containers, move_off
from pregan.simulation.placement import Capacity, first_fit, least_loaded


def test_mmt_picks_smallest_ram_per_host_in_host_order():
    proposal = np.array([0, 0, 1, 1, 2, -1])
    active = np.array([True, True, True, True, True, False])
    ram = np.array([500.0, 200.0, 300.0, 300.0, 100.0, 0.0])
    # host 1 ties on RAM: the lower slot wins; host 3 is empty and skipped.
    np.testing.assert_array_equal(
        mmt_containers(proposal, active, ram, np.array([1, 0, 3])), [2, 1]
    )


def test_containers_on_lists_every_container_on_the_hosts():
    proposal = np.array([0, 1, 1, 2, -1])
    active = np.array([True, True, True, True, False])
    np.testing.assert_array_equal(containers_on(proposal, active, np.array([1, 2])), [1, 2, 3])


def test_free_capacity_follows_the_proposal(obs_factory):
    obs = obs_factory(
        [[0.5, 0.1, 0.1]], np.array([0, 0, 1]), np.array([1000.0, 500.0, 400.0]), np.full(3, 100.0)
    )
    # the proposal moves container 1 from host 0 to host 2
    state = Capacity.under_proposal(obs, np.array([0, 2, 1]))
    np.testing.assert_allclose(state.free[:, 0], [3000.0, 3600.0, 3500.0])
    np.testing.assert_allclose(state.load, [0.5 - 0.125, 0.1, 0.1 + 0.125])


def test_relocate_respects_capacity_and_updates_it_within_a_decision(obs_factory):
    # host 0 (source) has two 1500-MIPS containers; host 1 has room for one, host 2 for none
    # by RAM, host 3 is down. The second container must stay put.
    placement = np.array([0, 0, 1, 2])
    mips = np.array([1500.0, 1500.0, 2000.0, 100.0])
    ram = np.array([100.0, 100.0, 100.0, 3950.0])
    obs = obs_factory(
        [[0.9, 0.5, 0.1, 0.0]], placement, mips, ram, host_up=np.array([True, True, True, False])
    )
    excluded = np.array([True, False, False, False])
    for rule in (least_loaded, first_fit):
        new = move_off(obs, placement, np.array([0, 1]), excluded, rule)
        np.testing.assert_array_equal(new, [1, 0, 1, 2])
    np.testing.assert_array_equal(placement, [0, 0, 1, 2])  # proposal untouched


def test_new_container_counts_against_free_capacity(obs_factory):
    # slot 2 is new (needs placement); the proposal puts it on host 1, filling it.
    placement = np.array([0, 1, -1])
    needs = np.array([False, False, True])
    obs = obs_factory(
        [[0.9, 0.0, 0.9]],
        placement,
        np.array([1000.0, 500.0, 3000.0]),
        np.full(3, 100.0),
        needs_placement=needs,
    )
    proposal = np.array([0, 1, 1])
    new = move_off(obs, proposal, np.array([0]), np.array([True, False, False]), least_loaded)
    assert new[0] == 2  # host 1 is least loaded by history, but full under the proposal
