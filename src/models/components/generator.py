"""PreGAN's generator: for each container of a flagged host, a score of "leave now".

The original's generator perturbs the whole placement matrix, S' = S + bound * tanh(f([E, S])),
and the migrations are read from S'. Here S' is factored into what decoding reads: a leave
score m in (-bound, bound) per container slot (the container leaves when m > 0), while the
target of a leaver is chosen by the shared target rule (`pregan.models.recovery.decoding`:
least-loaded healthy host with room, loads updated as moves are taken). The (C, H) matrix
the original trains would put its gradient on columns that decoding throws away, and costs
C x H MLP evaluations per decision (15 ms at 200 hosts, `benchmarks/bench_pregan.py`); the
relaxed S' is rebuilt from m and the decoded targets where a matrix is needed (the
discriminator's input when training the generator, the heat-map).

f is one MLP shared by every slot: slot indices carry no meaning (a container lands in
whichever slot is free), so it scores a container from its host's fault embedding and load,
the container's own demand and the room left on the healthy hosts (`decoding.slot_features`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn


class Generator(nn.Module):
    """Maps per-slot features x (B, C, F) and a movable mask (B, C) to leave scores m (B, C),
    0 for slots that cannot move; unbatched (C, F), (C,) -> (C,)."""

    def __init__(self, n_features: int, hidden: int = 64, bound: float = 4.0) -> None:
        super().__init__()
        if min(n_features, hidden) <= 0 or bound <= 0:
            raise ValueError(
                f"Generator: sizes and bound must be positive, got n_features={n_features}, "
                f"hidden={hidden}, bound={bound}"
            )
        self.n_features, self.bound = n_features, bound
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.LeakyReLU(),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(),
            nn.Linear(hidden, 1),
        )
        # Start at m = 0 everywhere, i.e. S' = S: an untrained generator moves nothing.
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor, movable: torch.Tensor) -> torch.Tensor:
        m = self.bound * torch.tanh(self.net(x).squeeze(-1))  # (..., C) in (-bound, bound)
        return m * movable.to(m.dtype)


def relaxed_placement(
    proposal: torch.Tensor, targets: torch.Tensor, p_leave: torch.Tensor, n_hosts: int
) -> torch.Tensor:
    """(B, C, H) rows (1 - p) * one_hot(proposal) + p * one_hot(target): the placement a leave
    probability p enacts in expectation. At p in {0, 1} it is the decoded placement itself,
    which is what the discriminator judges at inference. proposal, targets (B, C) int (-1:
    none; a slot without a target keeps p = 0); p_leave (B, C)."""
    s = one_hot(proposal, n_hosts)  # (B, C, H)
    t = one_hot(targets, n_hosts)
    p = p_leave * (targets >= 0).to(p_leave.dtype)  # (B, C)
    return s + p[..., None] * (t - s)


def one_hot(placement: torch.Tensor, n_hosts: int) -> torch.Tensor:
    """(..., C) int host indices (-1 = none) -> (..., C, H) float32 one-hot rows (zeros for -1)."""
    return torch.from_numpy(_eye(n_hosts))[placement.long()]


@lru_cache(maxsize=8)
def _eye(n_hosts: int) -> np.ndarray:
    """(H + 1, H) identity rows plus a zero row at index -1 (= H); built once per size.

    Cached as a NumPy array and wrapped per call (no copy): a cached tensor first built
    while a module is being exported (`OnnxGraph`) would be the exporter's fake tensor."""
    return np.eye(n_hosts + 1, n_hosts, dtype=np.float32)
