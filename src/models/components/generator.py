"""PreGAN's generator: a bounded perturbation of the scheduler's placement matrix.

S' = S + bound * tanh(MLP([E, S])). The bound (4 in the original) lets the generator move
any container anywhere (a one-hot row plus at most 4 per entry can change its argmax) while
keeping S' near S where the MLP output is small, so "no migration" is the easy default.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Generator(nn.Module):
    """Maps (E (H, e), S (C, H)) to a perturbed placement score matrix S' (C, H).

    Sizes come from the cluster (host and slot counts) and the classifier's embedding size.
    """

    def __init__(
        self, n_hosts: int, n_slots: int, embed_dim: int, hidden: int = 64, bound: float = 4.0
    ) -> None:
        super().__init__()
        if min(n_hosts, n_slots, embed_dim, hidden) <= 0 or bound <= 0:
            raise ValueError(
                f"Generator: sizes and bound must be positive, got n_hosts={n_hosts}, "
                f"n_slots={n_slots}, embed_dim={embed_dim}, hidden={hidden}, bound={bound}"
            )
        self.n_hosts, self.n_slots, self.embed_dim, self.bound = n_hosts, n_slots, embed_dim, bound
        self.net = nn.Sequential(
            nn.Linear(n_hosts * embed_dim + n_slots * n_hosts + n_slots * embed_dim, hidden),
            nn.LeakyReLU(),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(),
            nn.Linear(hidden, n_slots * n_hosts),
        )
        # Start at S' = S (no migration): an untrained generator must not move containers.
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, e: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """e (B, H, e) or (H, e); s (B, C, H) or (C, H) -> S' of s's shape."""
        squeeze = s.dim() == 2
        if squeeze:
            e, s = e.unsqueeze(0), s.unsqueeze(0)  # (1, H, e), (1, C, H)
        # S @ E, the fault embedding of each container's host, is a fixed function of [E, S]
        # that makes "this container sits on a faulty host" a first-order input feature.
        host_fault = torch.bmm(s, e)  # (B, C, e)
        x = torch.cat([e.flatten(1), s.flatten(1), host_fault.flatten(1)], dim=1)  # (B, F)
        delta = self.bound * torch.tanh(self.net(x))  # (B, C*H), each entry in (-bound, bound)
        s_new = s + delta.view_as(s)  # (B, C, H)
        return s_new.squeeze(0) if squeeze else s_new


def placement_matrix(placement: np.ndarray, n_hosts: int) -> np.ndarray:
    """(C,) host indices (-1 = none) -> (C, H) float32 one-hot rows (zero rows for -1)."""
    placement = np.asarray(placement)
    out = np.zeros((placement.shape[0], n_hosts), dtype=np.float32)  # (C, H)
    placed = placement >= 0
    out[np.flatnonzero(placed), placement[placed]] = 1.0
    return out


def feasible_moves(
    scores: np.ndarray,
    proposal: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    host_up: np.ndarray,
) -> np.ndarray:
    """Read migrations from a (C, H) score matrix and keep only the feasible ones.

    A container moves when its argmax host in `scores` differs from its host in `proposal`
    (S', not S: the original read the final migrations from S). Moves are taken greedily,
    most confident first (largest margin of the target over the current host); a move whose
    target is down or lacks free MIPS, RAM or disk after the moves already taken is dropped,
    and the container stays where the proposal put it. Unplaced slots (-1) stay unplaced.

    scores (C, H); proposal (C,) int; demand (C, R) per resource (MIPS, RAM, disk);
    capacity (H, R); host_up (H,) bool. Returns the final (C,) int64 placement.
    """
    proposal = np.asarray(proposal, dtype=np.int64)
    out = proposal.copy()
    placed = np.flatnonzero(proposal >= 0)
    target = scores.argmax(axis=1)  # (C,)
    movers = placed[target[placed] != proposal[placed]]
    if movers.size == 0:
        return out
    margin = scores[movers, target[movers]] - scores[movers, proposal[movers]]  # (M,)
    movers = movers[np.argsort(-margin, kind="stable")]
    used = np.zeros_like(capacity)  # (H, R)
    np.add.at(used, proposal[placed], demand[placed])
    free = capacity - used  # (H, R)
    for c in movers:
        h, src = target[c], proposal[c]
        if host_up[h] and (free[h] >= demand[c]).all():
            free[h] -= demand[c]
            free[src] += demand[c]
            out[c] = h
    return out
