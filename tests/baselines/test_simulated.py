"""Every baseline reacts to a scripted CPU overload in the real simulator.

The scheduler alone runs the episode up to the fault's onset, so that whatever containers
the host carries then are still there; from the onset on the baseline decides. It must move
at least one container off the overloaded host within a few intervals; `none` must not.
"""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pregan.data.episodes import episode_name, save_episode, write_manifest
from pregan.models.interfaces import FitContext
from pregan.models.recovery.baselines.cmodlb import CMODLBMethod
from pregan.models.recovery.baselines.dftm import DFTMMethod
from pregan.models.recovery.baselines.eclb import ECLBMethod
from pregan.models.recovery.baselines.none import NoneMethod
from pregan.models.recovery.baselines.oracle import OracleMethod
from pregan.models.recovery.baselines.pcft import PCFTMethod
from pregan.simulation.least_full import LeastFullScheduler
from pregan.simulation.simulator import Simulator

CONF = Path(__file__).resolve().parents[2] / "conf"
ONSET, SEED, WITHIN = 8, 1, 4


def _cfg(scripted: bool, n_intervals: int = 16):
    cfg = OmegaConf.create(
        {
            "simulation": OmegaConf.load(CONF / "simulation" / "default.yaml"),
            "workload": OmegaConf.load(CONF / "workload" / "synthetic.yaml"),
            "faults": OmegaConf.load(CONF / "faults" / "default.yaml"),
        }
    )
    cfg.simulation.n_hosts = 4
    cfg.simulation.n_intervals = n_intervals
    cfg.simulation.load = None  # the original's dense arrivals: 4 hosts always busy
    if scripted:
        cfg.faults.random = False
        cfg.faults.scripted = [
            {"host": 0, "kind": "cpu_overload", "onset": ONSET, "duration": 6, "intensity": 0.9}
        ]
    return cfg


def _moves_off_host0(policy) -> tuple[list[int], list[int]]:
    """Intervals (from the onset) in which the policy moved a container off host 0 / flagged it."""
    sim = Simulator.from_config(_cfg(scripted=True), SEED)
    scheduler = LeastFullScheduler()
    policy.reset(sim.spec)
    if hasattr(policy, "attach_ground_truth"):  # the oracle: truth and the true faults
        policy.attach_ground_truth(sim.fault_class_now)
        policy.attach_true_faults(sim.true_faults)
    if hasattr(policy, "attach_cosimulator"):
        policy.attach_cosimulator(sim.cosimulator)
    moved, flagged = [], []
    while not sim.done:
        obs = sim.observe()
        proposal = scheduler.place(obs)
        if obs.t < ONSET:
            sim.step(proposal)
            continue
        if obs.t == ONSET:
            assert (obs.active & (obs.placement == 0)).any(), "host 0 must carry a container"
        decision = policy.decide(obs, proposal)
        if (obs.active & (proposal == 0) & (decision.placement != 0)).any():
            moved.append(obs.t)
        if decision.host_flags is not None and decision.host_flags[0]:
            flagged.append(obs.t)
        sim.step(decision.placement)
    return moved, flagged


@pytest.fixture(scope="module")
def cmodlb_method(tmp_path_factory):
    """CMODLB fitted through `Method.fit` on episode folders written by pregan.data.episodes."""
    root = tmp_path_factory.mktemp("traces")
    for split, seed in (("train", 11), ("val", 12)):
        sim = Simulator.from_config(_cfg(scripted=False, n_intervals=30), seed)
        scheduler = LeastFullScheduler()
        while not sim.done:
            sim.step(scheduler.place(sim.observe()))
        save_episode(sim.record(), root / split / episode_name(seed))
        write_manifest(
            root / split,
            seeds=[seed],
            config={},
            profile_names=sim.spec.profile_names,
            metrics=sim.spec.metrics,
        )
    method = CMODLBMethod(max_epochs=3, batch_size=64, lr=1e-2)
    trainer = {
        "_target_": "lightning.pytorch.Trainer",
        "accelerator": "cpu",
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    ctx = FitContext(root / "train", root / "val", root / "run", 0, trainer, [], None)
    metrics = method.fit(ctx)
    assert set(metrics) == {"train/loss", "val/loss"}
    assert method.artifacts()["checkpoints"].is_relative_to(root / "run" / "checkpoints")
    return method


def _oracle() -> OracleMethod:
    return OracleMethod(migrator=OmegaConf.load(CONF / "migrator" / "gan.yaml"))


@pytest.mark.parametrize("method", [PCFTMethod(), DFTMMethod(), ECLBMethod(), _oracle()])
def test_heuristics_react_to_cpu_overload(method):
    moved, flagged = _moves_off_host0(method.policy())
    assert any(ONSET <= t <= ONSET + WITHIN for t in moved), (method.name, moved)
    assert any(ONSET <= t <= ONSET + WITHIN for t in flagged), (method.name, flagged)


def test_oracle_moves_at_the_onset_it_alone_knows():
    moved, flagged = _moves_off_host0(_oracle().policy())
    # It co-simulates the true faults of the interval about to run, so it can move before
    # any metric shows the fault; its reported verdicts are the truth of the last interval.
    assert moved[0] == ONSET
    assert flagged[0] == ONSET + 1


def test_cmodlb_reacts_to_cpu_overload(cmodlb_method):
    moved, _ = _moves_off_host0(cmodlb_method.policy())
    assert any(ONSET <= t <= ONSET + WITHIN for t in moved), moved


def test_none_does_not_move():
    moved, flagged = _moves_off_host0(NoneMethod().policy())
    assert moved == [] and flagged == []
