"""Each heuristic policy, on hand-built observations: it reacts, and only where it should."""

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from pregan.models.interfaces import Method
from pregan.models.recovery.baselines.dftm import DFTMMethod
from pregan.models.recovery.baselines.eclb import ECLBMethod, extrapolate_cpu
from pregan.models.recovery.baselines.none import NoneMethod
from pregan.models.recovery.baselines.oracle import (
    GroundTruthMissingError,
    GroundTruthShapeError,
    OracleMethod,
)
from pregan.models.recovery.baselines.pcft import PCFTMethod
from pregan.models.recovery.planning import CosimulatorMissingError
from pregan.simulation.interfaces import RecoveryDecision, RecoveryPolicy

CONF = Path(__file__).resolve().parents[2] / "conf"
PROPOSAL_OVERLOAD = np.array([0, 0, 0, 1, 2, 3, -1, -1])


def _check_decision(decision: RecoveryDecision, n_hosts: int, n_slots: int) -> None:
    assert decision.placement.shape == (n_slots,)
    assert decision.host_scores.shape == (n_hosts,)
    assert decision.host_flags.dtype == bool and decision.host_flags.shape == (n_hosts,)
    assert decision.dim_scores.shape == (n_hosts, 4)
    assert decision.fault_class is None  # no notion of fault classes: absent, not zero


@pytest.mark.parametrize("method", [PCFTMethod(), DFTMMethod(), ECLBMethod()])
def test_heuristic_sheds_mmt_container_of_overloaded_host(method, overload_obs):
    assert isinstance(method, Method)
    policy = method.policy()
    assert isinstance(policy, RecoveryPolicy)
    policy.reset(overload_obs.spec)
    decision = policy.decide(overload_obs, PROPOSAL_OVERLOAD.copy())
    _check_decision(decision, 4, 8)
    np.testing.assert_array_equal(decision.host_flags, [True, False, False, False])
    moved = np.flatnonzero(decision.placement != PROPOSAL_OVERLOAD)
    np.testing.assert_array_equal(moved, [1])  # the 300 MB container: minimum migration time
    assert decision.placement[1] != 0
    assert decision.host_scores[0] == decision.host_scores.max()
    assert method.fit(None) == {}


def test_targets_differ_as_the_papers_say(overload_obs):
    # loads at t-1: hosts 1..3 at 25 %, 30 %, 35 %; PCFT/ECLB -> least loaded/cheapest (1),
    # DFTM -> first fit (1 too); make host 1 infeasible by RAM and compare again.
    ram = overload_obs.container_ram_mb.copy()
    ram[3] = 3800.0
    from dataclasses import replace

    obs = replace(
        overload_obs,
        container_ram_mb=ram,
        host_free_ram_mb=np.array([2200.0, 200.0, 3500.0, 3500.0]),
    )
    for method in (PCFTMethod(), DFTMMethod(), ECLBMethod()):
        decision = method.policy().decide(obs, PROPOSAL_OVERLOAD.copy())
        assert decision.placement[1] == 2, method.name


def test_pcft_does_nothing_on_a_calm_cluster(obs_factory):
    calm = np.full((10, 4), 0.3)
    obs = obs_factory(calm, PROPOSAL_OVERLOAD, np.full(8, 500.0), np.full(8, 100.0))
    decision = PCFTMethod().policy().decide(obs, PROPOSAL_OVERLOAD.copy())
    np.testing.assert_array_equal(decision.placement, PROPOSAL_OVERLOAD)
    assert not decision.host_flags.any()


def test_pcft_warm_up_rule_uses_70_percent(obs_factory):
    history = np.array([[0.5, 0.2, 0.2, 0.69], [0.75, 0.2, 0.2, 0.69]])  # t = 2 < 10
    obs = obs_factory(history, PROPOSAL_OVERLOAD, np.full(8, 500.0), np.full(8, 100.0))
    decision = PCFTMethod().policy().decide(obs, PROPOSAL_OVERLOAD.copy())
    np.testing.assert_array_equal(decision.host_flags, [True, False, False, False])


def test_pcft_uses_headroom_on_the_prediction(obs_factory):
    # flat 85 %: predicted 0.85, 1.2 x 0.85 = 1.02 >= 1 -> selected; flat 80 %: 0.96 -> not.
    history = np.tile(np.array([0.85, 0.80, 0.2, 0.2]), (10, 1))
    obs = obs_factory(history, PROPOSAL_OVERLOAD, np.full(8, 500.0), np.full(8, 100.0))
    decision = PCFTMethod().policy().decide(obs, PROPOSAL_OVERLOAD.copy())
    np.testing.assert_array_equal(decision.host_flags, [True, False, False, False])


def test_dftm_budget_and_order(obs_factory):
    # 30 hosts: budget max(1, int(0.04 * 30)) = 1; hosts 3 and 7 overloaded, 7 predicted higher.
    history = np.full((10, 30), 0.2)
    history[:, 3] = 0.9
    history[:, 7] = 0.95
    placement = np.arange(30)
    obs = obs_factory(history, placement, np.full(30, 500.0), np.full(30, 100.0))
    decision = DFTMMethod().policy().decide(obs, placement.copy())
    np.testing.assert_array_equal(np.flatnonzero(decision.host_flags), [7])
    moved = np.flatnonzero(decision.placement != placement)
    np.testing.assert_array_equal(moved, [7])
    assert decision.placement[7] == 0  # first fit
    pcft = PCFTMethod().policy().decide(obs, placement.copy())
    np.testing.assert_array_equal(np.flatnonzero(pcft.host_flags), [3, 7])


def test_eclb_extrapolates_and_avoids_overloading_the_target(obs_factory):
    history = np.array([[0.7, 0.0, 0.8, 0.85], [0.9, 0.0, 0.8, 0.85]])
    np.testing.assert_allclose(extrapolate_cpu(np.dstack([history] * 4)), [1.1, 0.0, 0.8, 0.85])
    placement = np.array([0, 0, 2, 3])
    mips = np.array([1500.0, 1500.0, 100.0, 100.0])
    ram = np.array([900.0, 300.0, 100.0, 100.0])
    obs = obs_factory(history, placement, mips, ram, host_up=np.array([True, False, True, True]))
    decision = ECLBMethod().policy().decide(obs, placement.copy())
    np.testing.assert_array_equal(decision.host_flags, [True, False, False, False])
    # host 1 is down; host 2 would reach 0.8 + 0.375 > 1 but host 3 as well (1.225): cheaper 2
    assert decision.placement[1] == 2


def test_down_host_never_selected_nor_targeted(overload_obs):
    from dataclasses import replace

    obs = replace(overload_obs, host_up=np.array([True, False, True, True]))
    for method in (PCFTMethod(), DFTMMethod(), ECLBMethod()):
        decision = method.policy().decide(obs, PROPOSAL_OVERLOAD.copy())
        assert decision.placement[1] not in (0, 1), method.name


def test_none_never_overrides(overload_obs):
    rng = np.random.default_rng(0)
    policy = NoneMethod().policy()
    for _ in range(20):
        proposal = rng.integers(-1, 4, size=8)
        decision = policy.decide(overload_obs, proposal)
        np.testing.assert_array_equal(decision.placement, proposal)
        assert decision.placement is not proposal
        assert decision.host_scores is None and decision.host_flags is None
        assert decision.dim_scores is None and decision.fault_class is None


def test_oracle_needs_truth_of_the_right_shape_and_a_cosimulator(overload_obs):
    policy = OracleMethod(migrator=OmegaConf.load(CONF / "migrator" / "gan.yaml")).policy()
    with pytest.raises(GroundTruthMissingError, match="attach_ground_truth"):
        policy.decide(overload_obs, PROPOSAL_OVERLOAD.copy())
    policy.attach_ground_truth(lambda: np.zeros(3, dtype=int))
    with pytest.raises(GroundTruthShapeError, match=r"\(4,\)"):
        policy.decide(overload_obs, PROPOSAL_OVERLOAD.copy())
    policy.attach_ground_truth(lambda: np.array([0, 2, 0, 0]))
    with pytest.raises(CosimulatorMissingError, match="attach_cosimulator"):
        policy.decide(overload_obs, PROPOSAL_OVERLOAD.copy())
