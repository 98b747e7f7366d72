"""Generator, discriminator, feasibility and the manual-optimisation GAN step, on fakes."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pregan.models.components.discriminator import Discriminator
from pregan.models.components.generator import Generator, feasible_moves, placement_matrix
from pregan.models.recovery.cosim_scoring import CosimConfigError, CosimScoring
from pregan.models.recovery.gan_migrator import (
    DecisionPoint,
    GanMigratorModule,
    decode,
    leaving,
    spread,
    structured_candidates,
)

H, C, E = 4, 4, 2


@dataclass
class FakeResult:
    energy_j: np.ndarray
    mean_response_s: np.ndarray
    sla_violations: np.ndarray
    migrations: np.ndarray


class FakeSim:
    """Host 0 is 'faulty': every container on it adds response time; moves cost a little."""

    def __init__(self, start: np.ndarray) -> None:
        self.spec = SimpleNamespace(n_hosts=H, n_slots=C, interval_s=300.0)
        self.start = start

    def cosimulate(self, candidates: np.ndarray, horizon: int) -> FakeResult:
        on_bad = (candidates == 0).sum(axis=1).astype(float)  # (B,)
        moves = (candidates != self.start).sum(axis=1).astype(float)
        b = candidates.shape[0]
        return FakeResult(
            energy_j=np.full(b, 1000.0 * horizon),
            mean_response_s=3000.0 + 2000.0 * on_bad + 50.0 * moves,
            sla_violations=np.zeros(b),
            migrations=moves,
        )


def _point(proposal: np.ndarray, with_sim: bool = True) -> DecisionPoint:
    flags = np.array([True, False, False, False])
    emb = np.zeros((H, E), np.float32)
    emb[0] = [0.2, 0.8]
    return DecisionPoint(
        sim=FakeSim(proposal) if with_sim else None,
        embedding=emb,
        flags=flags,
        proposal=proposal,
        demand=np.full((C, 3), 1.0),
        capacity=np.full((H, 3), 4.0),
        host_up=np.ones(H, bool),
    )


def test_generator_shapes_and_bound() -> None:
    torch.manual_seed(0)
    g = Generator(H, C, E, hidden=16, bound=4.0)
    torch.nn.init.normal_(g.net[-1].weight, std=10.0)  # saturate tanh
    s = torch.from_numpy(placement_matrix(np.array([0, 1, 2, -1]), H))
    e = torch.rand(H, E)
    load = torch.rand(H)
    out = g(e, s, load)
    assert out.shape == (C, H)
    assert ((out - s).abs() <= 4.0).all()
    assert torch.equal(out[3], s[3])  # the empty slot stays empty
    batched = g(e[None].repeat(5, 1, 1), s[None].repeat(5, 1, 1), load[None].repeat(5, 1))
    assert batched.shape == (5, C, H)


def test_untrained_generator_keeps_s() -> None:
    g = Generator(H, C, E)
    s = torch.from_numpy(placement_matrix(np.array([0, 1, 2, 3]), H))
    assert torch.equal(g(torch.rand(H, E), s, torch.rand(H)), s)


def test_migrations_are_read_from_s_prime_not_s() -> None:
    proposal = np.array([0, 0, 1, -1])
    s_prime = placement_matrix(proposal, H)
    s_prime[0, 2] = 5.0  # slot 0 wants host 2
    out = feasible_moves(s_prime, proposal, np.ones((C, 3)), np.full((H, 3), 4.0), np.ones(H, bool))
    np.testing.assert_array_equal(out, [2, 0, 1, -1])


def test_infeasible_moves_are_dropped() -> None:
    proposal = np.array([0, 0, 1, 1])
    s_prime = placement_matrix(proposal, H)
    s_prime[0, 2] = 5.0  # to a down host
    s_prime[1, 3] = 5.0  # to a host without RAM
    s_prime[2, 3] = 6.0
    capacity = np.full((H, 3), 4.0)
    capacity[3, 1] = 1.5  # host 3 fits only one container's RAM
    up = np.array([True, True, False, True])
    out = feasible_moves(s_prime, proposal, np.ones((C, 3)), capacity, up)
    # Slot 2 (larger margin) takes host 3; slot 1 no longer fits there; slot 0's target is down.
    np.testing.assert_array_equal(out, [0, 0, 3, 1])


def test_discriminator_learns_fake_scorer() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    d = Discriminator(H, C, E, hidden=32)
    opt = torch.optim.Adam(d.parameters(), lr=3e-3)
    e = torch.zeros(H, E)
    e[0] = torch.tensor([0.2, 0.8])

    def batch(n: int) -> tuple[torch.Tensor, ...]:
        s_idx = rng.integers(0, H, size=(n, C))
        c_idx = rng.integers(0, H, size=(n, C))
        y = ((c_idx == 0).sum(1) < (s_idx == 0).sum(1)).astype(np.float32)  # fewer on host 0
        s = torch.from_numpy(np.stack([placement_matrix(r, H) for r in s_idx]))
        c = torch.from_numpy(np.stack([placement_matrix(r, H) for r in c_idx]))
        return e.expand(n, H, E), s, c, torch.from_numpy(y)

    load = torch.zeros(H)
    for _ in range(300):
        eb, s, c, y = batch(64)
        logits = d(eb, s, c, load.expand(64, H))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    eb, s, c, y = batch(512)
    acc = ((d.prob_better(eb, s, c, load.expand(512, H)) > 0.5).float() == y).float().mean()
    assert acc > 0.9


def _module(seed: int = 0) -> GanMigratorModule:
    torch.manual_seed(seed)
    return GanMigratorModule(
        H,
        C,
        E,
        hidden=16,
        lr_g=1e-2,
        lr_d=1e-2,
        lr_online=1e-2,
        n_samples=4,
        seed=seed,
        cosim={"horizon": 1, "weights": {"energy": 0.8, "response": 0.2}},
    )


def test_candidates_are_feasible_and_include_structured_moves() -> None:
    gan = _module()
    proposal = np.array([0, 0, 1, 2])
    point = _point(proposal)
    cands = gan.candidates(point, placement_matrix(proposal, H), np.random.default_rng(0))
    assert cands.shape == (2 + 4, C)
    np.testing.assert_array_equal(cands[0], proposal)
    fixed = structured_candidates(point)
    # all at once (both off host 0) and each container alone: three distinct moves
    assert fixed.shape == (3, C)
    assert any((row != 0).all() for row in fixed)  # evacuate-all leaves the flagged host empty
    assert sorted(int((row != proposal).sum()) for row in fixed) == [1, 1, 2]
    for c in np.vstack([cands, fixed]):
        load = np.bincount(c[c >= 0], minlength=H)
        assert (load <= 4).all()
        assert (c[proposal != 0] == proposal[proposal != 0]).all()  # only flagged-host moves


def test_spread_prefers_idle_hosts() -> None:
    point = _point(np.array([0, 0, 1, 1]))
    out = spread(point, np.array([0, 1]))
    # hosts 2 and 3 are idle: the two movers go there (one each, loads updated), not host 1
    assert sorted(out[:2].tolist()) == [2, 3]


def test_decode_reads_leavers_from_s_prime_and_spreads_them() -> None:
    proposal = np.array([0, 0, 1, -1])
    point = _point(proposal)
    s_new = placement_matrix(proposal, H)  # (C, H)
    s_new[0, 1] = s_new[1, 1] = 2.0  # S' sends both containers of host 0 to host 1 ...
    s_new[2, 3] = 0.5  # ... and keeps container 2 (0.5 < its own 1.0)
    np.testing.assert_array_equal(leaving(s_new, proposal), [True, True, False, False])
    out = decode(point, s_new)
    # the leavers go to the idle hosts 2 and 3 (one each), not both onto host 1 as S' ranks
    assert sorted(out[:2].tolist()) == [2, 3]
    np.testing.assert_array_equal(out[2:], proposal[2:])


def _train(seed: int, steps: int) -> tuple[GanMigratorModule, list[dict[str, float]]]:
    gan = _module(seed)
    points = [_point(np.array(p)) for p in ([0, 0, 1, 2], [0, 1, 0, 3], [0, 2, 3, 0])]
    return gan, [gan.online_update(points[i % 3]) for i in range(steps)]


def test_online_training_moves_containers_off_the_faulty_host() -> None:
    gan, stats = _train(0, 150)
    cand, prob, _ = gan.propose(_point(np.array([0, 0, 1, 2]), with_sim=False))
    assert (cand != 0).all(), cand
    assert prob > 0.5
    assert stats[-1]["best_gain"] > 0


def test_training_is_deterministic_under_seed() -> None:
    a, sa = _train(3, 5)
    b, sb = _train(3, 5)
    assert sa == sb
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_manual_optimisation_training_step(tmp_path) -> None:
    import lightning as L

    gan = _module()
    assert gan.automatic_optimization is False
    points = [_point(np.array([0, 0, 1, 2])), _point(np.array([0, 1, 0, 3]))]
    loader = torch.utils.data.DataLoader(points * 2, batch_size=2, collate_fn=lambda b: b)
    before = [p.detach().clone() for p in gan.parameters()]
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        accelerator="cpu",
        deterministic=True,
    )
    trainer.fit(gan, loader)
    assert any(not torch.equal(a, b) for a, b in zip(before, gan.parameters(), strict=True))
    assert {"train/g_loss", "train/d_loss", "train/accept_rate", "train/score_gain"} <= set(
        trainer.callback_metrics
    )
    assert (tmp_path / "gan_plots").is_dir()


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        ({"horizon": 0}, "horizon"),
        ({"horizon": -2}, "horizon"),
        ({"weights": {"energy": 0.0, "response": 0.0, "sla": 0.0}}, "all zero"),
        ({"weights": {"energy": -1.0}}, "w_energy"),
    ],
)
def test_cosim_scoring_rejects_bad_config(cfg: dict, field: str) -> None:
    with pytest.raises(CosimConfigError, match=field):
        CosimScoring.from_config(cfg)


def test_cosim_score_prefers_leaving_the_faulty_host() -> None:
    scoring = CosimScoring(horizon=1)
    proposal = np.array([0, 0, 1, 2])
    scores = scoring.score(FakeSim(proposal), np.stack([proposal, [3, 3, 1, 2]]))
    assert scores.shape == (2,) and scores[1] < scores[0]
