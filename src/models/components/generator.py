"""PreGAN's generator: a bounded perturbation of the scheduler's placement matrix.

S' = S + bound * tanh(f([E, S, L])), L the CPU load each host would carry under S. The bound (4 in the original) lets the generator move any
container anywhere (a one-hot row plus at most 4 per entry can change its argmax) while
keeping S' near S where f is small, so "no migration" is the easy default.

f is one MLP shared by every (container slot, host) pair: it scores host h for the container
in slot c from the fault embedding, load and container count of c's current host and of h,
and whether h is c's host. Slot and host indices carry no meaning (a container lands in
whichever slot is free, and hosts of a profile are interchangeable), so a flat MLP over all
of S would have to learn "leave a faulty host for a lightly loaded healthy one" separately for
every (slot, host) pair from a few hundred decision points; sharing it learns that once, and
the load L is what makes "where to" learnable at all.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Generator(nn.Module):
    """Maps (E (H, e), S (C, H), L (H,)) to a perturbed placement score matrix S' (C, H).

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
            nn.Linear(2 * (embed_dim + 3) + 1, hidden),
            nn.LeakyReLU(),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(),
            nn.Linear(hidden, 1),
        )
        # Start at S' = S (no migration): an untrained generator must not move containers.
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, e: torch.Tensor, s: torch.Tensor, load: torch.Tensor) -> torch.Tensor:
        """e (B, H, e) or (H, e); s (B, C, H) or (C, H); load (B, H) or (H,) -> S' of s's shape."""
        squeeze = s.dim() == 2
        if squeeze:
            e, s, load = e.unsqueeze(0), s.unsqueeze(0), load.unsqueeze(0)  # batch of 1
        b, c, h = s.shape
        flagged = (e.abs().sum(-1) > 0).to(s.dtype)  # (B, H) hosts with a fault embedding
        count = s.sum(1) / c  # (B, H) share of the slots on each host
        host = torch.cat([e, load[..., None], count[..., None], flagged[..., None]], dim=-1)
        own = torch.bmm(s, host)  # (B, C, e + 3) features of each slot's current host
        x = torch.cat(
            [
                own[:, :, None].expand(b, c, h, -1),  # (B, C, H, e + 3)
                host[:, None].expand(b, c, h, -1),  # (B, C, H, e + 3) the candidate host
                s[..., None],  # (B, C, H, 1) is it the current host
            ],
            dim=-1,
        )
        delta = self.bound * torch.tanh(self.net(x).squeeze(-1))  # (B, C, H) in (-bound, bound)
        s_new = s + delta * (s.sum(-1, keepdim=True) > 0)  # empty slots stay empty
        return s_new.squeeze(0) if squeeze else s_new


def placement_matrix(placement: np.ndarray, n_hosts: int) -> np.ndarray:
    """(C,) host indices (-1 = none) -> (C, H) float32 one-hot rows (zero rows for -1)."""
    placement = np.asarray(placement)
    out = np.zeros((placement.shape[0], n_hosts), dtype=np.float32)  # (C, H)
    placed = placement >= 0
    out[np.flatnonzero(placed), placement[placed]] = 1.0
    return out


def host_load(placement: np.ndarray, demand: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """(H,) float32 base CPU demand on each host under a (C,) placement, as a fraction of its
    MIPS; demand (C, R) and capacity (H, R) with MIPS first."""
    placed = placement >= 0
    mips = np.bincount(placement[placed], demand[placed, 0], minlength=capacity.shape[0])
    return (mips / capacity[:, 0]).astype(np.float32)


def feasible_moves(
    scores: np.ndarray,
    proposal: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    host_up: np.ndarray,
) -> np.ndarray:
    """Read migrations from a (C, H) score matrix and keep only the feasible ones.

    A container moves when some host scores above its host in `proposal` (S', not S: the
    original read the final migrations from S). Moves are taken greedily, most confident
    first (largest margin of the best host over the current one); each goes to the
    highest-scoring host that is up and still has the free MIPS, RAM and disk after the moves
    already taken, among those scoring above the current host. A container with no such host
    stays where the proposal put it. Unplaced slots (-1) stay unplaced.

    scores (C, H); proposal (C,) int; demand (C, R) per resource (MIPS, RAM, disk);
    capacity (H, R); host_up (H,) bool. Returns the final (C,) int64 placement.
    """
    proposal = np.asarray(proposal, dtype=np.int64)
    out = proposal.copy()
    placed = np.flatnonzero(proposal >= 0)
    if placed.size == 0:
        return out
    own = scores[placed, proposal[placed]]  # (P,)
    margin = scores[placed].max(axis=1) - own  # (P,)
    movers = placed[margin > 0]
    if movers.size == 0:
        return out
    movers = movers[np.argsort(-margin[margin > 0], kind="stable")]
    used = np.zeros_like(capacity)  # (H, R)
    np.add.at(used, proposal[placed], demand[placed])
    free = capacity - used  # (H, R)
    for c in movers:
        src = proposal[c]
        ok = host_up & (free >= demand[c]).all(axis=1) & (scores[c] > scores[c, src])  # (H,)
        if not ok.any():
            continue
        h = int(np.argmax(np.where(ok, scores[c], -np.inf)))
        free[h] -= demand[c]
        free[src] += demand[c]
        out[c] = h
    return out
