"""PreGAN's GAN migrator: a generator of preemptive migrations judged by a discriminator,
both trained by co-simulation against the planner (`pregan.models.recovery.planner`).

At a decision point (an interval where some host is flagged) the planner's candidate set,
the decoded generator output S' and perturbations of it are co-simulated in one batched call
on the point's snapshot.
- D learns, per candidate placement, whether it beat the proposal S (its co-simulated score is
  lower by more than `min_gain`). It sees decoded placements (one-hot rows), the same thing it
  judges at inference, where S' is enacted only when D says it beats S.
- G learns to propose what the planner would choose: the leave set of the best co-simulated
  candidate (the planner's choice among its candidates and the GAN's own proposals), or none
  when nothing beat S (imitation term, a cross-entropy on the leave scores decoding reads),
  and to make an S' that D prefers (adversarial term: D judges the placement the leave
  probabilities enact in expectation, which at 0/1 probabilities is the decoded placement).
Only the leave scores of containers on flagged hosts are trained, and they are all decoding
reads. The planner's candidates do not depend on the model, so they are co-simulated once
per point and reused over epochs; only S' and its perturbations are co-simulated anew.

Two phases share one training step: offline over decision points of training-seed runs
(`decision_points.collect_points`, driven by a Lightning Trainer with manual optimisation),
and online, one update per interval of a live run (`online_update`), on a snapshot built
from the policy's own fault estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from pregan.models.components.discriminator import Discriminator
from pregan.models.components.generator import Generator, one_hot, relaxed_placement
from pregan.models.components.onnx_graph import OnnxGraph
from pregan.models.recovery.cosim_scoring import CosimScoring
from pregan.models.recovery.decoding import (
    N_SLOT_FEATURES_BASE,
    DecisionPoint,
    candidate_placements,
    decode,
    slot_features,
    spread,
)
from pregan.models.recovery.gan_plots import save_heatmap
from pregan.simulation.interfaces import DEFAULT_METRICS


class GanMigratorModule(L.LightningModule):
    """Generator + discriminator trained by co-simulation, with manual optimisation."""

    def __init__(
        self,
        n_hosts: int,
        n_slots: int,
        embed_dim: int,
        n_metrics: int = len(DEFAULT_METRICS),
        hidden: int = 64,
        bound: float = 4.0,
        lr_g: float = 1e-3,
        lr_d: float = 1e-3,
        lr_online: float = 5e-5,
        n_samples: int = 4,
        move_prob: float = 0.5,
        adversarial_weight: float = 1.0,
        imitation_weight: float = 1.0,
        min_gain: float = 1e-4,
        budget: int = 16,
        cosim: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        # Initial weights from `seed` alone, not from whatever drew from the global generator
        # before (a classifier fitted in the same process, or loaded from the shared stage).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.generator = Generator(embed_dim + N_SLOT_FEATURES_BASE + n_metrics, hidden, bound)
            self.discriminator = Discriminator(n_hosts, n_slots, embed_dim, hidden)
        self.scoring = CosimScoring.from_config(cosim or {})
        self._online_opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None
        self._online_steps = 0
        self.sample: dict[str, np.ndarray] | None = None  # one (S, S') pair for the heat-map
        # The generator and D.judge_moves as ONNX Runtime graphs (`compile_decisions`), or
        # None: PyTorch. Dropped whenever the weights may change (train(), online_update).
        self._graphs: tuple[OnnxGraph, OnnxGraph] | None = None

    # ---- inference ---------------------------------------------------------------------
    def compile_decisions(self) -> None:
        """Serve `leave_scores` and single-placement `judge` calls from ONNX Runtime graphs of
        the current weights (`pregan.models.components.onnx_graph`: at 16 hosts ~2x faster
        than PyTorch's per-op dispatch), for a policy whose GAN no longer learns. Training
        (`train()`) and `online_update` drop them again; calling it twice exports once."""
        if self._graphs is not None:
            return
        hp = self.hparams
        c, h, e = hp.n_slots, hp.n_hosts, hp.embed_dim
        generator = OnnxGraph(
            self.generator.eval(),
            (
                torch.zeros(c, self.generator.n_features),  # slot features (C, F)
                torch.zeros(c, dtype=torch.bool),  # movable (C,)
            ),
            ("x", "movable"),
        )
        judge = OnnxGraph(
            self.discriminator.eval(),
            (
                torch.zeros(h, e),  # fault embeddings (H, e)
                torch.zeros(c, dtype=torch.int64),  # proposal (C,)
                torch.zeros(1, c, dtype=torch.int64),  # one placement (1, C)
                torch.zeros(h),  # CPU load (H,)
            ),
            ("embedding", "proposal", "placements", "load"),
            method="judge_moves",
        )
        self._graphs = (generator, judge)

    def train(self, mode: bool = True) -> GanMigratorModule:
        if mode:
            self._graphs = None  # the weights are about to change
        return super().train(mode)

    def leave_scores(self, point: DecisionPoint) -> np.ndarray:
        """(C,) the generator's leave score of every slot (0 for slots not on a flagged host)."""
        if self._graphs is not None:
            return self._graphs[0](x=slot_features(point), movable=point.movable)[0]
        x = torch.from_numpy(slot_features(point))  # (C, F)
        with torch.inference_mode():
            return self.generator(x, torch.from_numpy(point.movable)).numpy()

    def judge(self, point: DecisionPoint, placements: np.ndarray) -> np.ndarray:
        """(B,) D's probability that each of (B, C) decoded placements beats the proposal."""
        if self._graphs is not None and len(placements) == 1:
            return self._graphs[1](
                embedding=point.embedding,
                proposal=point.proposal,
                placements=placements,
                load=point.load,
            )[0]
        with torch.inference_mode():
            return self.discriminator.judge_moves(
                torch.from_numpy(point.embedding),  # (H, e)
                torch.from_numpy(point.proposal),  # (C,)
                torch.from_numpy(np.asarray(placements, dtype=np.int64)),  # (B, C)
                torch.from_numpy(point.load),  # (H,)
            ).numpy()

    def propose(self, point: DecisionPoint) -> tuple[np.ndarray, float, np.ndarray]:
        """Generate leave scores, decode them, and let D judge the decoded placement.

        Returns (placement (C,), D's probability that it beats S, leave scores (C,)).
        """
        m = self.leave_scores(point)
        cand, _ = decode(point, m)
        if np.array_equal(cand, point.proposal):
            return cand, 0.0, m
        return cand, float(self.judge(point, cand[None])[0]), m

    # ---- candidates ----------------------------------------------------------------------
    def sampled(self, point: DecisionPoint, m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(n_samples + 1, C) model-dependent candidates: the decoded S' and perturbations.

        A perturbation flips the generator's verdict on each container of a flagged host
        with a probability drawn per sample in (0, 2 * move_prob] (so both single changes and
        near-inversions occur); every candidate is decoded like S'.
        """
        leaves = point.movable & (m > 0)  # (C,) the generator's verdicts
        rows = [decode(point, m)[0]]
        for _ in range(self.hparams.n_samples):
            p_flip = rng.uniform(0.0, min(1.0, 2 * self.hparams.move_prob))
            flip = point.movable & (rng.random(m.shape[0]) < p_flip)  # (C,)
            rows.append(spread(point, np.flatnonzero(leaves ^ flip)))
        return np.stack(rows)

    def scored(
        self, point: DecisionPoint, m: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """All candidates of a point and their gain over S (> 0: better): row 0 is S, row 1
        the decoded S', then its perturbations, then the planner's candidates (co-simulated
        once per point and cached)."""
        if point.sim is None:
            raise ValueError("GAN training: the decision point has no co-simulation to score on")
        if "planner" not in point.cache:
            cands, _ = candidate_placements(point, self.hparams.budget)  # (P, C), row 0 = S
            point.cache["planner"] = (cands, self.scoring.score(point.sim, cands))
        planned, planned_scores = point.cache["planner"]
        own = self.sampled(point, m, rng)  # (K, C)
        own_scores = self.scoring.score(point.sim, own)
        cands = np.vstack([planned[:1], own, planned[1:]])  # (B, C)
        scores = np.concatenate([planned_scores[:1], own_scores, planned_scores[1:]])
        return cands, scores[0] - scores

    # ---- one GAN update ------------------------------------------------------------------
    def _gan_losses(
        self, points: list[DecisionPoint], rng: np.random.Generator
    ) -> tuple[Callable[[], torch.Tensor], Callable[[], torch.Tensor], dict[str, float]]:
        """Co-simulate every point's candidates; return closures for the D and G losses."""
        h, min_gain = self.hparams.n_hosts, self.hparams.min_gain
        pair_idx, pair_c, pair_y, teacher, targets = [], [], [], [], []
        gains, best_gains, accepted, agree = [], [], [], []
        for i, p in enumerate(points):
            cand_g, prob, m = self.propose(p)
            cands, gain = self.scored(p, m, rng)  # (B, C), (B,)
            moved = (cands[1:] != p.proposal).any(axis=1)  # (B-1,) D judges real moves only
            pair_idx.append(np.full(int(moved.sum()), i))
            pair_c.append(cands[1:][moved])
            pair_y.append(gain[1:][moved] > min_gain)
            best = int(np.argmax(gain))
            choice = cands[best] if gain[best] > min_gain else p.proposal
            teacher.append(p.movable & (choice != p.proposal))  # (C,) the planner's leave set
            targets.append(decode(p, m, with_targets=True)[1])
            accept = prob > 0.5
            gains.append(float(gain[1]) if accept else 0.0)  # candidate 1 is the decoded S'
            best_gains.append(max(float(gain[best]), 0.0))
            accepted.append(float(accept))
            agree.append(float(np.array_equal(cand_g, choice)))
            if self.sample is None:
                s = one_hot(torch.from_numpy(p.proposal), h).numpy()
                placed = one_hot(torch.from_numpy(cand_g), h).numpy()
                self.sample = {"S": s, "S_prime": placed - s, "placed": placed}
        props = torch.from_numpy(np.stack([p.proposal for p in points]))  # (N, C)
        e = torch.from_numpy(np.stack([p.embedding for p in points]))  # (N, H, e)
        s = one_hot(props, h)  # (N, C, H)
        load = torch.from_numpy(np.stack([p.load for p in points]))  # (N, H)
        x = torch.from_numpy(np.stack([slot_features(p) for p in points]))  # (N, C, F)
        movable = torch.from_numpy(np.stack([p.movable for p in points]))  # (N, C)
        tgt = torch.from_numpy(np.stack(targets))  # (N, C)
        leave = torch.from_numpy(np.stack(teacher).astype(np.float32))  # (N, C)
        idx = torch.from_numpy(np.concatenate(pair_idx))  # (P,)
        pc = one_hot(torch.from_numpy(np.concatenate(pair_c)), h)  # (P, C, H)
        py = torch.from_numpy(np.concatenate(pair_y).astype(np.float32))  # (P,)
        pos = py.mean().clamp(0.05, 0.95) if len(py) else torch.tensor(0.5)
        weight = torch.where(py > 0, 0.5 / pos, 0.5 / (1 - pos))  # (P,) balance the classes

        def d_loss() -> torch.Tensor:
            if len(py) == 0:
                return sum(p.sum() * 0.0 for p in self.discriminator.parameters())
            logits = self.discriminator(e[idx], s[idx], pc, load[idx])  # (P,)
            return F.binary_cross_entropy_with_logits(logits, py, weight=weight)

        def g_loss() -> torch.Tensor:
            m = self.generator(x, movable)  # (N, C)
            n_movable = movable.sum().clamp(min=1)
            imit = F.binary_cross_entropy_with_logits(m, leave, reduction="none")  # (N, C)
            imit = (imit * movable).sum() / n_movable
            relaxed = relaxed_placement(props, tgt, torch.sigmoid(m), h)  # (N, C, H)
            adv = F.softplus(-self.discriminator(e, s, relaxed, load)).mean()  # -log D(better)
            return self.hparams.adversarial_weight * adv + self.hparams.imitation_weight * imit

        stats = {
            "accept_rate": float(np.mean(accepted)),
            "score_gain": float(np.mean(gains)),
            "best_gain": float(np.mean(best_gains)),
            "planner_agreement": float(np.mean(agree)),
            "d_pos_rate": float(py.mean()) if len(py) else 0.0,
        }
        return d_loss, g_loss, stats

    def transfer_batch_to_device(
        self, batch: list[DecisionPoint], device: torch.device, dataloader_idx: int
    ) -> list[DecisionPoint]:
        """The batch as it is: decision points hold NumPy arrays and co-simulation snapshots,
        which the losses turn into tensors themselves. Lightning's default walks every field
        and rebuilds each dataclass, so the planner scores a point caches (`point.cache`)
        landed on a copy and were co-simulated again every epoch."""
        return batch

    def _rng(self, batch_idx: int) -> np.random.Generator:
        return np.random.default_rng(
            [self.hparams.seed, self.current_epoch, batch_idx, self._online_steps]
        )

    def training_step(self, batch: list[DecisionPoint], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        d_loss_fn, g_loss_fn, stats = self._gan_losses(batch, self._rng(batch_idx))
        self.toggle_optimizer(opt_d)
        d_loss = d_loss_fn()
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()
        self.untoggle_optimizer(opt_d)
        self.toggle_optimizer(opt_g)
        g_loss = g_loss_fn()
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        logs = {"train/d_loss": d_loss.detach(), "train/g_loss": g_loss.detach()}
        logs.update({f"train/{k}": v for k, v in stats.items()})
        self.log_dict(logs, batch_size=len(batch), on_step=True, on_epoch=True, prog_bar=True)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return self._make_optimizers(self.hparams.lr_g, self.hparams.lr_d)

    def _make_optimizers(self, lr_g: float, lr_d: float) -> list[torch.optim.Optimizer]:
        opt_g = torch.optim.AdamW(self.generator.parameters(), lr=lr_g)
        opt_d = torch.optim.AdamW(self.discriminator.parameters(), lr=lr_d)
        return [opt_g, opt_d]

    # ---- online phase --------------------------------------------------------------------
    def online_update(self, point: DecisionPoint) -> dict[str, float]:
        """One D and one G step on one live decision point (outside any Trainer), at the
        online learning rate (the original's 5e-5: small steps on a single point)."""
        if point.sim is None:
            raise ValueError("online_update: the decision point has no co-simulation to score on")
        self._graphs = None  # the weights change below
        if self._online_opts is None:
            lr = self.hparams.lr_online
            opt_g, opt_d = self._make_optimizers(lr, lr)
            self._online_opts = (opt_g, opt_d)
        opt_g, opt_d = self._online_opts
        d_loss_fn, g_loss_fn, stats = self._gan_losses([point], self._rng(0))
        self._online_steps += 1
        for opt, loss_fn, frozen in (
            (opt_d, d_loss_fn, self.generator),
            (opt_g, g_loss_fn, self.discriminator),
        ):
            frozen.requires_grad_(False)
            loss = loss_fn()
            opt.zero_grad()
            loss.backward()
            opt.step()
            frozen.requires_grad_(True)
            stats["d_loss" if opt is opt_d else "g_loss"] = float(loss.detach())
        return stats

    # ---- heat-map ------------------------------------------------------------------------
    def on_train_epoch_start(self) -> None:
        self.sample = None

    def on_train_end(self) -> None:
        if self.sample is None or self.trainer is None:
            return
        out_dir = Path(self.trainer.default_root_dir) / "gan_plots"
        path = save_heatmap(self.sample, out_dir / f"s_vs_sprime_epoch{self.current_epoch:03d}.png")
        for logger in self.trainer.loggers:
            run_id = getattr(logger, "run_id", None)
            if run_id is not None and hasattr(logger.experiment, "log_artifact"):
                logger.experiment.log_artifact(run_id, str(path), "gan")
