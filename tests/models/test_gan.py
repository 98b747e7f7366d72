"""Generator, discriminator, feasibility and the manual-optimisation GAN step, on fakes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from pregan.models.components.discriminator import Discriminator
from pregan.models.components.generator import Generator, one_hot, relaxed_placement
from pregan.models.recovery.cosim_scoring import CosimConfigError, CosimScoring
from pregan.models.recovery.decoding import (
    N_SLOT_FEATURES_BASE,
    DecisionPoint,
    candidate_placements,
    decode,
    slot_features,
    spread,
)
from pregan.models.recovery.gan_migrator import GanMigratorModule
from pregan.simulation.placement import Capacity

CONF = Path(__file__).resolve().parents[2] / "conf"
COSIM = OmegaConf.to_container(OmegaConf.load(CONF / "migrator" / "gan.yaml").cosim)
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
    """Host 0 flagged; every container needs 1 of each resource, every host has 4."""
    flags = np.array([True, False, False, False])
    emb = np.zeros((H, E), np.float32)
    emb[0] = [0.2, 0.8]
    demand = np.full((C, 3), 1.0)
    return DecisionPoint(
        sim=FakeSim(proposal) if with_sim else None,
        embedding=emb,
        flags=flags,
        proposal=proposal,
        demand=demand,
        capacity=Capacity.under(proposal, demand, np.full((H, 3), 4.0), np.ones(H, bool)),
        host_util=np.full((H, 4), 0.3, np.float32),
    )


def _features(point: DecisionPoint) -> torch.Tensor:
    return torch.from_numpy(slot_features(point))


def test_generator_shapes_and_bound() -> None:
    torch.manual_seed(0)
    g = Generator(E + N_SLOT_FEATURES_BASE + 4, hidden=16, bound=4.0)
    torch.nn.init.normal_(g.net[-1].weight, std=10.0)  # saturate tanh
    point = _point(np.array([0, 0, 1, -1]))
    x, movable = _features(point), torch.from_numpy(point.movable)
    m = g(x, movable)
    assert m.shape == (C,)
    assert (m.abs() <= 4.0).all()
    assert (m[~movable] == 0).all()  # only containers of flagged hosts get a leave score
    assert g(x[None].repeat(5, 1, 1), movable[None].repeat(5, 1)).shape == (5, C)


def test_untrained_generator_moves_nothing() -> None:
    gan = _module()
    point = _point(np.array([0, 0, 1, 2]))
    cand, prob, m = gan.propose(point)
    np.testing.assert_array_equal(cand, point.proposal)
    assert prob == 0.0 and (m == 0).all()


def test_migrations_are_read_from_s_prime_not_s() -> None:
    """PreGAN's decoding: who leaves is the generator's output (m > 0), not the proposal S;
    an untouched S with a leave score on slot 1 moves slot 1 only."""
    gan = _module()
    point = _point(np.array([0, 0, 1, -1]))
    for layer in gan.generator.net:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.zeros_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
    point.demand[1, 0] = 2.0
    x = _features(point)
    col = E + 3  # the container's MIPS share of its host
    with torch.no_grad():
        net = gan.generator.net
        net[0].weight[0, col] = 1.0
        net[0].bias[0] = -0.375  # fires for slot 1 (share 0.5), not slot 0 (share 0.25)
        net[2].weight[0, 0] = 1.0
        net[4].weight[0, 0] = 10.0
        net[4].bias[0] = -1e-3
    m = gan.leave_scores(point)
    assert m[1] > 0 >= m[0]
    cand, _, _ = gan.propose(point)
    assert cand[1] != 0 and cand[0] == 0  # slot 1 left, slot 0 stayed
    np.testing.assert_array_equal(cand[2:], point.proposal[2:])
    assert x.shape == (C, E + N_SLOT_FEATURES_BASE + 4)


def test_decoded_targets_and_relaxation_match_the_decoded_placement() -> None:
    """D judges the same decoded placements in training and at inference: the relaxed
    placement G is trained through equals the decoded one at leave probabilities 0 / 1."""
    point = _point(np.array([0, 0, 1, 2]))
    m = np.array([2.0, -1.0, 0.0, 0.0])
    placed, targets = decode(point, m, with_targets=True)
    np.testing.assert_array_equal(decode(point, m)[0], placed)
    assert placed[0] == targets[0] != 0 and placed[1] == 0
    assert targets[1] not in (-1, 0, targets[0])  # where slot 1 would go next (loads updated)
    p = torch.from_numpy((m > 0).astype(np.float32))[None]
    relaxed = relaxed_placement(
        torch.from_numpy(point.proposal)[None], torch.from_numpy(targets)[None], p, H
    )
    torch.testing.assert_close(relaxed, one_hot(torch.from_numpy(placed)[None], H))


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
        s = one_hot(torch.from_numpy(s_idx), H)
        c = one_hot(torch.from_numpy(c_idx), H)
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


@pytest.mark.parametrize("n_hosts, n_slots, embed_dim", [(4, 4, 2), (16, 24, 2), (200, 320, 3)])
def test_judge_moves_equals_prob_better_bit_for_bit(n_hosts, n_slots, embed_dim) -> None:
    """The decision path's index form of D gives exactly the one-hot form's floats: stays,
    moves, slots leaving the cluster (-1) or entering it, unflagged hosts, negative loads."""
    rng = np.random.default_rng(n_hosts)
    for seed in range(5):
        torch.manual_seed(seed)
        d = Discriminator(n_hosts, n_slots, embed_dim, hidden=64)
        with torch.no_grad():
            for p in d.parameters():
                p.normal_(0.0, 0.7)
        e = torch.from_numpy(rng.random((n_hosts, embed_dim), dtype=np.float32))
        e[rng.random(n_hosts) < 0.5] = 0.0  # unflagged hosts: zero rows
        load = torch.from_numpy(rng.normal(0.5, 0.4, n_hosts).astype(np.float32))
        proposal = rng.integers(-1, n_hosts, n_slots)  # (C,)
        cands = np.repeat(proposal[None], 6, axis=0)  # (B, C)
        cands[0] = -1 if seed == 0 else cands[0]  # all leave the cluster (or none move)
        change = rng.random(cands[1:].shape) < [[0.0], [0.05], [0.3], [0.8], [1.0]]
        cands[1:][change] = rng.integers(-1, n_hosts, int(change.sum()))
        with torch.inference_mode():
            fast = d.judge_moves(e, torch.from_numpy(proposal), torch.from_numpy(cands), load)
            b = cands.shape[0]
            s = one_hot(torch.from_numpy(proposal), n_hosts).expand(b, -1, -1)
            full = d.prob_better(
                e.expand(b, -1, -1),
                s,
                one_hot(torch.from_numpy(cands), n_hosts),
                load.expand(b, -1),
            )
        assert fast.shape == (b,)
        assert torch.equal(fast, full), (fast - full).abs().max()


def _module(seed: int = 0) -> GanMigratorModule:
    torch.manual_seed(seed)
    return GanMigratorModule(
        H,
        C,
        E,
        n_metrics=4,
        hidden=16,
        lr_g=1e-2,
        lr_d=1e-2,
        lr_online=1e-2,
        n_samples=4,
        budget=16,
        seed=seed,
        cosim={**COSIM, "horizon": 1},
    )


def test_compiled_decisions_equal_pytorch_and_are_dropped_when_weights_change() -> None:
    """compile_decisions serves the same leave scores and judgements (float32 rounding) from
    ONNX Runtime; online updates and train() fall back to the live weights."""
    gan, _ = _train(1, 20)
    point = _point(np.array([0, 0, 1, 2]), with_sim=False)
    m = gan.leave_scores(point)
    cand = decode(point, m)[0][None]
    ref_m, ref_p = m, gan.judge(point, cand)
    gan.compile_decisions()
    np.testing.assert_allclose(gan.leave_scores(point), ref_m, atol=1e-6)
    np.testing.assert_allclose(gan.judge(point, cand), ref_p, atol=1e-6)
    assert gan.judge(point, np.vstack([cand, cand])).shape == (2,)  # batches: PyTorch
    gan.online_update(_point(np.array([0, 0, 1, 2])))
    assert gan._graphs is None
    gan.compile_decisions()
    gan.train()
    assert gan._graphs is None


def test_exporting_leaves_no_exporter_tensors_behind() -> None:
    """Helpers that cache per size must not keep the exporter's fake tensors: after a GAN of
    sizes no other test uses (cold caches) is compiled, PyTorch's own path still computes."""
    h, c, e = 13, 11, 5
    gan = GanMigratorModule(h, c, e, n_metrics=4, hidden=8, seed=0, cosim={**COSIM, "horizon": 1})
    gan.compile_decisions()
    d = Discriminator(h, c, e, hidden=8)
    with torch.inference_mode():
        out = d.judge_moves(
            torch.zeros(h, e),
            torch.zeros(c, dtype=torch.long),
            torch.ones(1, c, dtype=torch.long),
            torch.zeros(h),
        )
    assert out.numpy().shape == (1,)  # a cached fake tensor would make this raise
    assert one_hot(torch.zeros(c, dtype=torch.long), h).numpy().shape == (c, h)


def test_planner_candidates_are_feasible_and_move_only_off_flagged_hosts() -> None:
    gan = _module()
    proposal = np.array([0, 0, 1, 2])
    point = _point(proposal)
    cands, leaves = candidate_placements(point, budget=16)
    np.testing.assert_array_equal(cands[0], proposal)  # row 0: no move
    # evacuate host 0 (both), the heavier half (one), each alone (one each): 3 distinct moves
    assert cands.shape == (4, C)
    assert any((row != 0).all() for row in cands[1:])  # evacuate-all empties the flagged host
    assert sorted(int((row != proposal).sum()) for row in cands[1:]) == [1, 1, 2]
    np.testing.assert_array_equal(leaves, cands != proposal)
    own = gan.sampled(point, np.zeros(C, np.float32), np.random.default_rng(0))
    assert own.shape == (1 + 4, C)
    for c in np.vstack([cands, own]):
        assert (np.bincount(c[c >= 0], minlength=H) <= 4).all()
        assert (c[proposal != 0] == proposal[proposal != 0]).all()  # only flagged-host moves
    assert len(candidate_placements(point, budget=1)[0]) == 2  # the budget caps the leave sets


def test_spread_prefers_idle_hosts() -> None:
    point = _point(np.array([0, 0, 1, 1]))
    out = spread(point, np.array([0, 1]))
    # hosts 2 and 3 are idle: the two movers go there (one each, loads updated), not host 1
    assert sorted(out[:2].tolist()) == [2, 3]


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
    assert stats[-1]["planner_agreement"] == 1.0  # it proposes what the planner chooses


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
    # The Trainer hands the points themselves to the step, so the planner's candidates are
    # co-simulated once per point and reused over epochs (a copied batch cached nothing).
    assert all("planner" in p.cache for p in points)


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        ({"horizon": 0}, "horizon"),
        ({"horizon": -2}, "horizon"),
        ({"weights": {"energy": 0.0, "response": 0.0, "sla": 0.0}}, "all zero"),
        ({"weights": {"energy": -1.0, "response": 0.0, "sla": 0.0}}, "w_energy"),
        ({"weights": {"energy": 1.0, "sla": 0.0}}, "weights.response"),
        ({"power_ref_w": None}, "power_ref_w"),
    ],
)
def test_cosim_scoring_rejects_bad_config(cfg: dict, field: str) -> None:
    bad = {**COSIM, **cfg}
    if bad.get("power_ref_w", 0) is None:
        del bad["power_ref_w"]
    with pytest.raises(CosimConfigError, match=field):
        CosimScoring.from_config(bad)


def test_cosim_score_prefers_leaving_the_faulty_host() -> None:
    scoring = CosimScoring.from_config({**COSIM, "horizon": 1})
    proposal = np.array([0, 0, 1, 2])
    scores = scoring.score(FakeSim(proposal), np.stack([proposal, [3, 3, 1, 2]]))
    assert scores.shape == (2,) and scores[1] < scores[0]
