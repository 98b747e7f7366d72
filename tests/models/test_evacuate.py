"""EvacuatePolicy on a tiny real simulator: every container leaves a flagged host, none
leaves an unflagged one; the method's config composes and refuses a missing classifier."""

from __future__ import annotations

import numpy as np
import pytest

from pregan.models.recovery.classifier_flagging import UtilisationFlagger
from pregan.models.recovery.evacuate import EvacuateMethod, EvacuatePolicy


@pytest.fixture(scope="module")
def cfg(tiny_faulty_cfg):
    return tiny_faulty_cfg("model=evacuate")


def test_flagged_hosts_are_emptied_and_others_kept(cfg) -> None:
    from pregan.simulation.least_full import LeastFullScheduler
    from pregan.simulation.simulator import Simulator

    sim = Simulator.from_config(cfg, 0)
    flagger = UtilisationFlagger(0.5)
    policy = EvacuatePolicy(flagger, window=1)
    policy.reset(sim.spec)
    scheduler = LeastFullScheduler()
    moved_off_flagged = 0
    while not sim.done:
        obs = sim.observe()
        proposal = scheduler.place(obs)
        decision = policy.decide(obs, proposal)
        flags = decision.host_flags
        placed = proposal >= 0
        on_flagged = placed & flags[np.clip(proposal, 0, None)]
        kept = placed & ~on_flagged
        np.testing.assert_array_equal(decision.placement[kept], proposal[kept])
        if obs.t >= 1 and on_flagged.any() and (obs.host_up & ~flags).any():
            target = decision.placement[on_flagged]
            moved_off_flagged += int((target != proposal[on_flagged]).sum())
            assert not flags[target[target != proposal[on_flagged]]].any()
        sim.step(decision.placement)
    assert moved_off_flagged > 0


def test_config_composes_and_requires_a_classifier(cfg) -> None:
    assert cfg.model.name == "evacuate"
    assert cfg.model.classifier._target_.endswith("FaultClassifierModule")
    with pytest.raises(ValueError, match="classifier"):
        EvacuateMethod()
    with pytest.raises(RuntimeError, match="fit"):
        EvacuateMethod(classifier=cfg.model.classifier).policy()
