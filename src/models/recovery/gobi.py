"""GOBI, the original's underlying scheduler: gradient descent on a learned placement objective.

A surrogate network predicts the co-simulated 0.8*energy + 0.2*latency of a placement. To
place, the one-hot placement is relaxed to a per-container softmax over its candidate hosts
(all hosts up to `n_candidates` + 1; beyond, the least-utilised ones and its own) and optimised
by AdamW (lr 0.8, cosine schedule, at most 200 iterations, stopping once the rounded
placement has not changed for 30 rounds), then rounded to one-hot and repaired: containers
whose chosen host is down or full take their next-best feasible host.

The surrogate is trained (a Lightning module) on placements co-simulated one interval ahead:
the default scheduler's proposals and random perturbations of them, from training-seed runs.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from pregan.models.components.surrogate import PlacementSurrogate
from pregan.models.recovery.cosim_scoring import CosimScoring
from pregan.simulation.interfaces import Observation
from pregan.simulation.placement import (
    Capacity,
    best_scored,
    capacity_matrix,
    demand_matrix,
    one_hot,
    relocate,
)

log = logging.getLogger(__name__)


class GobiCheckpointError(ValueError):
    """A GOBI surrogate checkpoint is unreadable or made for another cluster size."""


def surrogate_inputs(obs: Observation) -> tuple[np.ndarray, np.ndarray]:
    """(host CPU utilisation of the last interval (H,), container CPU demand (C,)) float32.

    Container demand is in units of the mean host capacity, so both live on the same scale.
    """
    spec = obs.spec
    host_cpu = obs.host_metrics[-1, :, 0] if obs.host_metrics.shape[0] else np.zeros(spec.n_hosts)
    cont = obs.container_mips / float(np.mean(spec.host_ips))
    return host_cpu.astype(np.float32), cont.astype(np.float32)


class GobiSurrogateModule(L.LightningModule):
    """Fits the surrogate to standardised co-simulated objectives by mean squared error."""

    def __init__(
        self,
        n_hosts: int,
        n_slots: int,
        hidden: int = 16,
        lr: float = 1e-3,
        target_mean: float = 0.0,
        target_std: float = 1.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.surrogate = PlacementSurrogate(n_hosts, n_slots, hidden)

    def forward(
        self, host_cpu: torch.Tensor, cont: torch.Tensor, placement: torch.Tensor
    ) -> torch.Tensor:
        """Standardised objective (B,); lower is better."""
        return self.surrogate(host_cpu, cont, placement)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        host_cpu, cont, placement, y = batch
        y_std = (y - self.hparams.target_mean) / self.hparams.target_std  # (B,)
        loss = F.mse_loss(self(host_cpu, cont, placement), y_std)
        self.log("gobi/train_mse", loss, prog_bar=True, batch_size=y.shape[0])
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr)


def collect_surrogate_data(
    make_sim: Any,
    scheduler: Any,
    seeds: Sequence[int],
    n_perturb: int,
    rng: np.random.Generator,
    scoring: CosimScoring,
) -> tuple[np.ndarray, ...]:
    """Run each seed with `scheduler`; per interval co-simulate its proposal and `n_perturb`
    random feasible perturbations one interval ahead in one batched call.

    Returns host_cpu (N, H), container_cpu (N, C), placement (N, C, H), objective (N,).
    """
    hosts, conts, places, ys = [], [], [], []
    for seed in seeds:
        sim = make_sim(int(seed))
        spec = sim.spec
        capacity = capacity_matrix(spec)  # (H, 3)
        while not sim.done:
            obs = sim.observe()
            proposal = np.asarray(scheduler.place(obs), dtype=np.int64)
            demand = demand_matrix(obs)  # (C, 3)
            base = one_hot(proposal, spec.n_hosts)  # (C, H)
            cands = [proposal]
            for _ in range(n_perturb):
                noisy = base + rng.gumbel(size=base.shape) * rng.uniform(0.3, 2.0)  # (C, H)
                cands.append(perturbed(noisy, proposal, demand, capacity, obs.host_up))
            cands = np.stack(cands)  # (B, C)
            # Training seeds: candidates are scored under the true current faults.
            y = scoring.score(sim.cosimulator(sim.true_faults()), cands)  # (B,)
            host_cpu, cont = surrogate_inputs(obs)
            for c, v in zip(cands, y, strict=True):
                hosts.append(host_cpu)
                conts.append(cont)
                places.append(one_hot(c, spec.n_hosts))
                ys.append(v)
            sim.step(proposal)
    return (np.stack(hosts), np.stack(conts), np.stack(places), np.asarray(ys, dtype=np.float32))


def train_surrogate(
    data: tuple[np.ndarray, ...],
    n_hosts: int,
    n_slots: int,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    hidden: int = 16,
) -> GobiSurrogateModule:
    """Fit a GobiSurrogateModule on collected data with a quiet CPU Lightning Trainer."""
    L.seed_everything(seed, workers=True, verbose=False)
    host_cpu, cont, placement, y = (torch.from_numpy(np.asarray(a, dtype=np.float32)) for a in data)
    module = GobiSurrogateModule(
        n_hosts, n_slots, hidden, lr, float(y.mean()), float(y.std().clamp(min=1e-6))
    )
    loader = DataLoader(
        TensorDataset(host_cpu, cont, placement, y),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
    )
    trainer.fit(module, loader)
    return module.eval()


def load_surrogate(path: Path, n_hosts: int | None = None) -> GobiSurrogateModule:
    """Load a surrogate checkpoint, for exactly `n_hosts` hosts when given; clear errors."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        hp = ckpt["hyper_parameters"]
    except Exception as exc:  # corrupt or foreign file: name it, whatever torch raised
        raise GobiCheckpointError(
            f"{path}: not a readable GOBI surrogate checkpoint ({exc})"
        ) from exc
    if n_hosts is not None and hp.get("n_hosts") != n_hosts:
        raise GobiCheckpointError(
            f"{path}: surrogate n_hosts={hp.get('n_hosts')} but the run's config has "
            f"simulation.n_hosts={n_hosts}"
        )
    module = GobiSurrogateModule(**hp)
    module.load_state_dict(ckpt["state_dict"])
    return module.eval()


def save_surrogate(module: GobiSurrogateModule, path: Path) -> None:
    """Write {hyper_parameters, state_dict} atomically (temp file + os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".ckpt", dir=path.parent)
    os.close(fd)
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict()}, tmp)
    os.replace(tmp, path)


def perturbed(
    scores: np.ndarray,
    proposal: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    host_up: np.ndarray,
) -> np.ndarray:
    """The feasible placement a noisy (C, H) score matrix reads as: a container moves when
    some host scores above its own, most confident first (largest margin), to the
    highest-scoring up host with room among those; otherwise it stays."""
    placed = np.flatnonzero(proposal >= 0)
    own = np.full(proposal.shape[0], np.inf)
    own[placed] = scores[placed, proposal[placed]]
    margin = np.where(proposal >= 0, scores.max(axis=1) - own, -np.inf)  # (C,)
    movers = np.flatnonzero(margin > 0)
    movers = movers[np.argsort(-margin[movers], kind="stable")]
    state = Capacity.under(proposal, demand, capacity, host_up)
    return relocate(proposal, movers, demand, state, best_scored(scores, floor=own))


def repair(
    logits: np.ndarray,
    active: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    host_up: np.ndarray,
) -> np.ndarray:
    """Round relaxed (C, H) logits to a feasible placement: most confident containers first,
    each takes its best-ranked up host with room for its MIPS, RAM and disk; -1 if none."""
    empty = np.full(logits.shape[0], -1, dtype=np.int64)
    rows = np.flatnonzero(active)
    order = rows[np.argsort(-logits[rows].max(axis=1), kind="stable")]
    state = Capacity.under(empty, demand, capacity.astype(np.float64), host_up)
    return relocate(empty, order, demand, state, best_scored(logits))


class GOBIScheduler:
    """`scheduler=gobi`: implements the Scheduler protocol, place(obs) -> (C,)."""

    name = "gobi"

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        lr: float = 0.8,
        max_iters: int = 200,
        patience: int = 30,
        n_candidates: int = 15,
        train: Any = None,
        sim_cfg: Any = None,
        module: GobiSurrogateModule | None = None,
    ) -> None:
        """Use `module`, else load `checkpoint`, else train a surrogate and save it there.

        Training needs `sim_cfg` (with simulation, workload, faults and scheduler_base, the
        scheduler whose proposals are perturbed) and `train` (seeds, n_perturb, epochs,
        batch_size, lr, seed).
        """
        if lr <= 0 or max_iters <= 0 or patience <= 0 or n_candidates <= 0:
            raise ValueError(
                "conf/scheduler/gobi.yaml: lr, max_iters, patience and n_candidates must be "
                f"positive, got lr={lr}, max_iters={max_iters}, patience={patience}, "
                f"n_candidates={n_candidates}"
            )
        self.lr, self.max_iters, self.patience = lr, max_iters, patience
        self.n_candidates = n_candidates
        if module is None:
            module = self._load_or_train(checkpoint, train, sim_cfg)
        self.module = module.eval().requires_grad_(False)
        self.last_iters = 0
        self.last_objective: tuple[float, float] = (float("nan"), float("nan"))

    @staticmethod
    def _load_or_train(checkpoint: Any, train: Any, sim_cfg: Any) -> GobiSurrogateModule:
        if sim_cfg is None and checkpoint is None:
            raise ValueError(
                "GOBIScheduler: give a surrogate module, a checkpoint or sim_cfg to train one"
            )
        n_hosts = int(sim_cfg.simulation.n_hosts) if sim_cfg is not None else None
        path = Path(checkpoint) if checkpoint is not None else None
        if path is not None and path.is_file():
            return load_surrogate(path, n_hosts)
        if sim_cfg is None or train is None:
            raise GobiCheckpointError(
                f"{path}: GOBI surrogate checkpoint not found and no sim_cfg/train to fit one"
            )
        import hydra

        from pregan.simulation.simulator import Simulator

        base = hydra.utils.instantiate(sim_cfg.scheduler_base)
        log.info("GOBI: training the surrogate on seeds %s", list(train.seeds))
        data = collect_surrogate_data(
            lambda s: Simulator.from_config(sim_cfg, s),
            base,
            list(train.seeds),
            int(train.n_perturb),
            np.random.default_rng(int(train.seed)),
            CosimScoring.from_config(train.cosim, source="conf/scheduler/gobi.yaml"),
        )
        module = train_surrogate(
            data,
            data[2].shape[2],
            data[2].shape[1],
            int(train.epochs),
            int(train.batch_size),
            float(train.lr),
            int(train.seed),
        )
        if path is not None:
            save_surrogate(module, path)
        return module

    def place(self, obs: Observation) -> np.ndarray:
        """Optimise the relaxed placement of every active slot; return a feasible (C,)."""
        spec = obs.spec
        active = np.asarray(obs.active, dtype=bool)
        out = np.full(spec.n_slots, -1, dtype=np.int64)
        if not active.any():
            return out
        host_cpu, cont = surrogate_inputs(obs)
        up = np.asarray(obs.host_up, bool)
        start = np.where(obs.needs_placement, -1, obs.placement).astype(np.int64)  # (C,)
        idx = candidate_hosts(start, host_cpu, up, self.n_candidates)  # (C, K)
        x = self.optimise(host_cpu, cont, start, idx, active, up)  # (C, K)
        # Hosts outside a container's candidates rank after them, least loaded first.
        logits = np.broadcast_to(-1e6 - host_cpu.astype(np.float64), (spec.n_slots, spec.n_hosts))
        logits = logits.copy()
        np.put_along_axis(logits, idx, x, axis=1)
        return repair(logits, active, demand_matrix(obs), capacity_matrix(spec), up)

    def optimise(
        self,
        host_cpu: np.ndarray,
        cont: np.ndarray,
        start: np.ndarray,
        idx: np.ndarray,
        active: np.ndarray,
        host_up: np.ndarray,
    ) -> np.ndarray:
        """Gradient descent on relaxed placement logits over each container's candidate hosts
        (C, K) (`candidate_hosts`), started at `start` (C,) (its host placed, uniform over the
        candidates if -1); down hosts are masked out. Records the surrogate objective of the
        hard start and of the rounded result in `last_objective`."""
        net = self.module.surrogate
        weights = net.numpy_weights()  # fixed while placing: fetched once, not per step
        n_hosts = host_cpu.shape[0]
        hc = host_cpu.astype(np.float64)  # (H,)
        # Only active rows are optimised: an idle slot adds nothing to the objective and gets
        # no gradient, so its logits only decay (its row's argmax never changes) and rounding
        # reads active rows only. Same result as optimising all C rows, at A/C of the cost.
        rows = np.flatnonzero(active)  # (A,)
        ct = cont[rows].astype(np.float64)  # (A,)
        down = np.where(host_up[idx], 0.0, -1e4)  # (C, K)
        down_a = down[rows]  # (A, K)
        # Only the U hosts some active row may choose carry load; every other host's term is
        # the constant f(cpu, 0, 0), evaluated once. The MLP then runs on U hosts, not H.
        hosts, col = np.unique(idx[rows], return_inverse=True)  # (U,), (A*K,)
        col = col.reshape(rows.shape[0], -1)  # (A, K) each candidate's position in `hosts`
        flat, n_used = col.ravel(), hosts.shape[0]
        rest = np.setdiff1d(np.arange(n_hosts), hosts)
        zeros = np.zeros(rest.shape[0])
        y_rest = net.host_grad(hc[rest], zeros, zeros, weights, n_hosts)[0] if rest.size else 0.0
        hc_used = hc[hosts]

        def objective(p: np.ndarray) -> tuple[float, np.ndarray]:
            """Surrogate value and its gradient w.r.t. the relaxed active rows p (A, K)."""
            load = np.bincount(flat, (p * ct[:, None]).ravel(), n_used)  # (U,)
            count = np.bincount(flat, p.ravel(), n_used)  # (U,)
            y, g_load, g_count = net.host_grad(hc_used, load, count, weights, n_hosts)
            return y + y_rest, ct[:, None] * g_load[col] + g_count[col]  # (A, K)

        hard0 = (idx == start[:, None]).astype(np.float64)  # (C, K) one-hot of placed rows
        first = objective(hard0[rows])[0]
        # Containers of equal demand on equally loaded hosts get equal gradients, and a
        # per-host surrogate has no per-slot term to tell them apart: a fixed jitter of the
        # start logits lets them settle on different hosts.
        jitter = np.random.default_rng(0)
        x0 = 3.0 * hard0 + jitter.normal(0.0, 0.3, hard0.shape)  # (C, K) logits
        x = x0[rows]  # (A, K)
        # AdamW (betas 0.9/0.999, weight decay 0.01, as torch's defaults) with a cosine
        # learning rate, in NumPy with the surrogate's hand-derived gradient: on a (C, K)
        # tensor and a small MLP, torch's per-operation overhead would dominate the cost.
        m, v = np.zeros_like(x), np.zeros_like(x)
        b1, b2, wd, eps = 0.9, 0.999, 0.01, 1e-8
        choice, unchanged, decay = None, 0, 1.0
        for it in range(self.max_iters):
            lr = 0.5 * self.lr * (1.0 + math.cos(math.pi * it / self.max_iters))
            logits = x + down_a
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)  # (A, K) relaxed placement
            _, dp = objective(p)
            grad = p * (dp - (dp * p).sum(axis=1, keepdims=True))  # softmax backward (A, K)
            x *= 1.0 - lr * wd
            decay *= 1.0 - lr * wd
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad * grad
            step = m / (np.sqrt(v / (1 - b2 ** (it + 1))) + eps)
            x -= lr / (1 - b1 ** (it + 1)) * step
            now = (x + down_a).argmax(axis=1)  # (A,)
            unchanged = unchanged + 1 if choice is not None and np.array_equal(now, choice) else 0
            choice = now
            if unchanged >= self.patience:
                break
        self.last_iters = it + 1
        final = x0 * decay + down  # (C, K) idle rows: their start logits, decayed
        final[rows] = x + down_a
        hard = (final[rows] == final[rows].max(axis=1, keepdims=True)).astype(np.float64)
        hard /= hard.sum(axis=1, keepdims=True)  # (A, K)
        self.last_objective = (first, objective(hard)[0])
        return final


def candidate_hosts(
    start: np.ndarray, host_cpu: np.ndarray, host_up: np.ndarray, k: int
) -> np.ndarray:
    """(C, K) hosts GOBI's gradient step may place each container on: the k + 1 up hosts of
    lowest CPU utilisation, with a placed container's own host in place of the last of them
    when it is not among them. With k + 1 >= H every host is a candidate (the original's
    dense optimisation); beyond that, a container's best move is to a lightly loaded host,
    and optimising over all H hosts per container costs C x H per step."""
    n_hosts = host_cpu.shape[0]
    if k + 1 >= n_hosts:
        return np.tile(np.arange(n_hosts), (start.shape[0], 1))
    order = np.argsort(np.where(host_up, host_cpu, np.inf), kind="stable")[: k + 1]  # (K,)
    idx = np.tile(order, (start.shape[0], 1))  # (C, K)
    own_in = (start[:, None] == order[None]).any(axis=1)
    fix = (start >= 0) & ~own_in
    idx[fix, -1] = start[fix]
    return idx
