"""The planner on a tiny real simulator, and the oracle as its bound on its own objective."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.utils import instantiate

from pregan.models.recovery.baselines.oracle import OracleMethod
from pregan.models.recovery.classifier_flagging import UtilisationFlagger
from pregan.models.recovery.decoding import candidate_placements, decision_point, spread
from pregan.models.recovery.planner import PlannerMethod, PlannerPolicy
from pregan.models.recovery.planning import CosimulatorMissingError, scoring_from
from pregan.simulation.least_full import LeastFullScheduler
from pregan.simulation.simulator import Simulator


@pytest.fixture(scope="module")
def cfg(tiny_faulty_cfg):
    return tiny_faulty_cfg("model=planner")


def test_planner_enacts_its_best_cosimulated_candidate(cfg) -> None:
    sim = Simulator.from_config(cfg, 0)
    scoring, budget = scoring_from(cfg.model.migrator, "test")
    policy = PlannerPolicy(UtilisationFlagger(0.5), window=1, scoring=scoring, budget=budget)
    policy.reset(sim.spec)
    scheduler = LeastFullScheduler()
    obs = sim.observe()
    sim.step(scheduler.place(obs))
    obs = sim.observe()
    eager = PlannerPolicy(UtilisationFlagger(0.0), window=1, scoring=scoring, budget=budget)
    with pytest.raises(CosimulatorMissingError, match="attach_cosimulator"):
        eager.decide(obs, scheduler.place(obs))  # flags every host, so it must co-simulate
    policy.attach_cosimulator(sim.cosimulator)
    moved = planned = 0
    while not sim.done:
        obs = sim.observe()
        proposal = scheduler.place(obs)
        decision = policy.decide(obs, proposal)
        plan = policy.last_plan
        if plan is not None and decision.host_flags.any() and obs.t >= 1:
            planned += 1
            np.testing.assert_array_equal(plan.candidates[0], proposal)  # "no move" is row 0
            assert plan.scores[plan.index] == plan.scores.min()
            np.testing.assert_array_equal(decision.placement, plan.candidates[plan.index])
            moved += int((decision.placement != proposal).any())
            flagged = decision.host_flags
            left = (decision.placement != proposal) & (proposal >= 0)
            assert flagged[proposal[left]].all()  # only containers of flagged hosts move
            assert not flagged[decision.placement[left]].any()  # and never onto one
        policy.last_plan = None
        sim.step(decision.placement)
    assert planned > 0 and moved > 0  # host 0's 95 % CPU hog is worth leaving


def test_method_config_composes_and_validates(cfg) -> None:
    method = instantiate(cfg.model, _recursive_=False)
    assert isinstance(method, PlannerMethod) and method.name == "planner"
    assert method.budget == cfg.model.migrator.planner.budget
    assert method.scoring.horizon == cfg.model.migrator.cosim.horizon
    bad = cfg.model.migrator.copy()
    bad.planner.budget = 0
    with pytest.raises(ValueError, match="planner.budget"):
        PlannerMethod(classifier=cfg.model.classifier, migrator=bad)
    with pytest.raises(RuntimeError, match="fit"):
        method.policy()


def test_oracle_is_never_beaten_on_its_own_objective(tiny_faulty_cfg) -> None:
    """At every interval of a tiny episode with random faults, the oracle's enacted placement
    scores, on the true faults, at most what no move, evacuating every truly faulty host, and
    every candidate of a smaller planner search off the truly faulty hosts score."""
    cfg = tiny_faulty_cfg("model=oracle", "simulation.n_intervals=20", "faults.random=true")
    method = instantiate(cfg.model, _recursive_=False)
    assert isinstance(method, OracleMethod)
    policy = method.policy()
    scoring, budget = scoring_from(cfg.model.migrator, "test")
    sim = Simulator.from_config(cfg, 3)
    policy.reset(sim.spec)
    policy.attach_ground_truth(sim.fault_class_now)
    policy.attach_true_faults(sim.true_faults)
    policy.attach_cosimulator(sim.cosimulator)
    scheduler = LeastFullScheduler()
    checked = 0
    while not sim.done:
        obs = sim.observe()
        proposal = scheduler.place(obs)
        decision = policy.decide(obs, proposal)
        truth = sim.true_faults()
        faulty = (truth.kind > 0) & obs.host_up
        if faulty.any():
            point = decision_point(
                obs, proposal, faulty, np.zeros((4, 1), np.float32), sim.cosimulator(truth)
            )
            rivals, _ = candidate_placements(point, budget // 2)  # includes "no move"
            evacuate = spread(point, np.flatnonzero(point.movable))
            cands = np.vstack([decision.placement, rivals, evacuate])
            scores = scoring.score(point.sim, cands)
            assert scores[0] <= scores[1:].min() + 1e-12, (obs.t, scores)
            checked += 1
        sim.step(decision.placement)
    assert checked >= 3
