"""Co-simulation from a policy's own fault estimate: no truth leaks out of the schedule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pregan.simulation.cosim import FaultEstimate, FaultEstimateError, estimate_faults
from pregan.simulation.interfaces import FAULT_KINDS, QOS_COLUMNS
from pregan.simulation.least_full import LeastFullScheduler

COL = {name: i for i, name in enumerate(QOS_COLUMNS)}
LEAK = FAULT_KINDS.index("memory_leak") + 1


def test_true_faults_reproduce_the_real_next_interval(sim_factory) -> None:
    sim = sim_factory(1, n_hosts=8, n_intervals=30)
    sched = LeastFullScheduler()
    for _ in range(10):
        sim.step(sched.place(sim.observe()))
    for _ in range(5):
        proposal = sched.place(sim.observe())
        view = sim.cosimulator(sim.true_faults())
        res = view.cosimulate(np.stack([proposal, sim.observe().placement]), horizon=1)
        row = sim.step(proposal)
        assert res.energy_j[0] == pytest.approx(row[COL["energy_j"]])
        assert res.sla_violations[0] == row[COL["sla_violations"]]
        assert res.migrations[0] == row[COL["migrations"]]
        assert np.isfinite(res.mean_response_s).all()


def test_view_is_a_snapshot_and_estimate_decides(sim_factory) -> None:
    storm = [{"host": 0, "kind": "cpu_overload", "onset": 0, "duration": 30, "intensity": 0.95}]
    sim = sim_factory(
        1, faults={"random": False, "scripted": storm}, n_hosts=4, n_intervals=30, load=None
    )
    sched = LeastFullScheduler()
    for _ in range(6):
        sim.step(sched.place(sim.observe()))
    obs = sim.observe()
    c = int(np.flatnonzero(obs.active & (obs.placement > 0))[0])
    onto_hog, stay = obs.placement.copy(), obs.placement.copy()
    onto_hog[c] = 0
    view = sim.cosimulator(sim.true_faults())
    blind = sim.cosimulator(FaultEstimate.none(4))
    res = view.cosimulate(np.stack([stay, onto_hog]), horizon=3)
    assert res.mean_response_s[1] > res.mean_response_s[0]
    assert res.migrations[1] >= 1 and res.migrations[0] == 0
    # Without the estimate of the hog, host 0 looks as good as any other.
    res_blind = blind.cosimulate(np.stack([stay, onto_hog]), horizon=3)
    assert res_blind.mean_response_s[1] < res.mean_response_s[1]
    sim.step(onto_hog)  # the live run moves on; the snapshot does not
    again = view.cosimulate(np.stack([stay, onto_hog]), horizon=3)
    np.testing.assert_array_equal(again.mean_response_s, res.mean_response_s)


def test_leak_keeps_growing_over_the_horizon(sim_factory) -> None:
    sim = sim_factory(2, faults={"random": False}, n_hosts=4, n_intervals=20, load=None)
    sched = LeastFullScheduler()
    for _ in range(3):
        sim.step(sched.place(sim.observe()))
    kind = np.array([LEAK, 0, 0, 0])
    flat = FaultEstimate(kind, np.array([0.5, 0, 0, 0]), np.zeros(4))
    growing = FaultEstimate(kind, np.array([0.5, 0, 0, 0]), np.array([0.3, 0, 0, 0]))
    assert growing.effects(2, np.zeros(4, bool)).leak[0] == pytest.approx(1.1)
    placement = sched.place(sim.observe())[None]
    on0 = np.where(placement[0] >= 0, 0, -1)[None]  # everything on the leaking host
    r_flat = sim.cosimulator(flat).cosimulate(on0, horizon=4)
    r_grow = sim.cosimulator(growing).cosimulate(on0, horizon=4)
    assert r_grow.mean_response_s[0] > r_flat.mean_response_s[0]


def test_estimate_is_validated(sim_factory) -> None:
    sim = sim_factory(0, n_hosts=4, n_intervals=5)
    with pytest.raises(FaultEstimateError, match="kind must have shape"):
        sim.cosimulator(FaultEstimate(np.zeros(3, np.int64), np.zeros(4), np.zeros(4)))
    with pytest.raises(FaultEstimateError, match="kind must lie in"):
        sim.cosimulator(FaultEstimate(np.full(4, 9), np.zeros(4), np.zeros(4)))


def test_estimate_faults_reads_the_observed_level(sim_factory) -> None:
    hog = [{"host": 1, "kind": "disk_contention", "onset": 2, "duration": 10, "intensity": 0.8}]
    sim = sim_factory(
        3, faults={"random": False, "scripted": hog}, n_hosts=4, n_intervals=12, load=None
    )
    sched = LeastFullScheduler()
    for _ in range(5):
        sim.step(sched.place(sim.observe()))
    obs = sim.observe()
    kind = np.array([0, FAULT_KINDS.index("disk_contention") + 1, 0, 0])
    est = estimate_faults(obs, kind)
    assert est.level[1] == pytest.approx(0.8, abs=0.1)
    assert est.level[[0, 2, 3]].sum() == 0


class _Recorded:
    """A co-simulation view that logs every result it hands the policy."""

    def __init__(self, view, log: list) -> None:
        self.view, self.spec, self.log = view, view.spec, log

    def cosimulate(self, candidates, horizon=1):
        res = self.view.cosimulate(candidates, horizon)
        self.log.append((np.array(candidates), res))
        return res


def _run_policy(sim, n: int) -> tuple[list[np.ndarray], list[torch.Tensor], list]:
    """An online PreGAN policy (no truth attached) over the first n intervals of `sim`;
    its decisions, its GAN's parameters after the online updates and every co-simulation
    result it saw."""
    from omegaconf import OmegaConf

    from pregan.models.recovery.classifier_flagging import UtilisationFlagger
    from pregan.models.recovery.gan_migrator import GanMigratorModule
    from pregan.models.recovery.pregan import PreGANPolicy

    torch.manual_seed(0)
    conf = Path(__file__).resolve().parents[2] / "conf" / "migrator" / "gan.yaml"
    cosim = OmegaConf.to_container(OmegaConf.load(conf).cosim)
    n_metrics = len(sim.spec.metrics)  # UtilisationFlagger's embedding is one-hot over metrics
    gan = GanMigratorModule(
        4, 4, n_metrics, n_metrics=n_metrics, hidden=16, n_samples=3, budget=8, cosim=cosim
    )
    policy = PreGANPolicy(UtilisationFlagger(0.3), gan, window=1, online=True)
    policy.reset(sim.spec)
    log: list = []
    policy.attach_cosimulator(lambda est: _Recorded(sim.cosimulator(est), log))
    sched = LeastFullScheduler()
    decisions = []
    for _ in range(n):
        obs = sim.observe()
        decision = policy.decide(obs, sched.place(obs))
        decisions.append(decision.placement.copy())
        sim.step(decision.placement)
    return decisions, [p.detach().clone() for p in gan.parameters()], log


def test_hidden_future_faults_do_not_change_a_policys_decisions(sim_factory) -> None:
    """Two simulators that differ only in faults starting at interval 6 give identical
    decisions up to and including interval 6 (whose faults no observation shows yet)."""
    early = [{"host": 0, "kind": "cpu_overload", "onset": 2, "duration": 20, "intensity": 0.9}]
    hidden = [
        {"host": 1, "kind": "node_crash", "onset": 7, "duration": 2, "intensity": 1.0},
        {"host": 2, "kind": "memory_leak", "onset": 6, "duration": 8, "intensity": 1.5},
        {"host": 3, "kind": "disk_contention", "onset": 6, "duration": 8, "intensity": 0.9},
    ]
    a = sim_factory(
        5, faults={"random": False, "scripted": early}, n_hosts=4, n_intervals=12, load=None
    )
    b = sim_factory(
        5,
        faults={"random": False, "scripted": early + hidden},
        n_hosts=4,
        n_intervals=12,
        load=None,
    )
    # The hidden faults do change what the live interval 6 executes ...
    fa, fb = a.fork(), b.fork()
    sched = LeastFullScheduler()
    rows = []
    for sim in (fa, fb):
        for _ in range(7):
            row = sim.step(sched.place(sim.observe()))
        rows.append(row)
    assert not np.array_equal(rows[0], rows[1])
    # ... but not a single decision of a policy that co-simulates at every interval.
    dec_a, params_a, log_a = _run_policy(a, 7)
    dec_b, params_b, log_b = _run_policy(b, 7)
    assert len(log_a) == len(log_b) > 0
    for (ca, ra), (cb, rb) in zip(log_a, log_b, strict=True):
        np.testing.assert_array_equal(ca, cb)
        for field in ("energy_j", "mean_response_s", "sla_violations", "migrations"):
            np.testing.assert_array_equal(getattr(ra, field), getattr(rb, field), err_msg=field)
    for t, (x, y) in enumerate(zip(dec_a, dec_b, strict=True)):
        np.testing.assert_array_equal(x, y, err_msg=f"decision at interval {t}")
    for pa, pb in zip(params_a, params_b, strict=True):
        torch.testing.assert_close(pa, pb)
