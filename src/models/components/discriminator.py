"""PreGAN's discriminator: does the candidate placement S' beat the proposal S?

Besides (S, S') it sees E, the prototype embeddings of the hosts flagged faulty (zeros for
the others): from placements alone, whether moving a container helps is unidentifiable,
since the same move is good off a faulty host and useless (it only costs a migration) off a
healthy one.

The judgement is built from the moves: one MLP, shared by every slot, encodes a move by the
fault embeddings, CPU loads and container counts of its source and target hosts; the codes are summed,
weighted by how far each slot moved (0 for a slot that stays, so only moves count), and a
second MLP maps the sum plus cluster context to the logit. Slot indices are arbitrary, so a
flat MLP over S and S' would have to learn every (slot, host) pair separately.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

from pregan.models.components.generator import one_hot


class Discriminator(nn.Module):
    """Maps (E (H, e), S (C, H), S' (C, H), L (H,)) to the logit of "S' is better than S".

    L is each host's CPU load under S (`decoding.DecisionPoint.load`). At inference and when D
    is trained, S' rows are the decoded placement's one-hot rows; when G is trained through D,
    they are its relaxation (`generator.relaxed_placement`)."""

    def __init__(self, n_hosts: int, n_slots: int, embed_dim: int, hidden: int = 64) -> None:
        super().__init__()
        if min(n_hosts, n_slots, embed_dim, hidden) <= 0:
            raise ValueError(
                f"Discriminator: sizes must be positive, got n_hosts={n_hosts}, "
                f"n_slots={n_slots}, embed_dim={embed_dim}, hidden={hidden}"
            )
        self.n_hosts, self.n_slots, self.embed_dim = n_hosts, n_slots, embed_dim
        self.move = nn.Sequential(
            nn.Linear(2 * embed_dim + 6, hidden),
            nn.LeakyReLU(),
            nn.Linear(hidden, hidden),
        )
        self.head = nn.Sequential(
            nn.Linear(hidden + 1 + n_hosts * embed_dim + 3 * n_hosts, hidden),
            nn.LeakyReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(
        self, e: torch.Tensor, s: torch.Tensor, s_new: torch.Tensor, load: torch.Tensor
    ) -> torch.Tensor:
        """e (B, H, e), s (B, C, H), s_new (B, C, H), load (B, H) -> logits (B,); unbatched
        inputs give ().

        S' rows may be relaxed placements (rows summing to 1): every feature is linear in them.
        """
        squeeze = s.dim() == 2
        if squeeze:
            e, s, s_new, load = e[None], s[None], s_new[None], load[None]
        c = s.shape[1]
        flagged = (e.abs().sum(-1) > 0).to(s.dtype)  # (B, H)
        count = s.sum(1) / c  # (B, H) share of the slots on each host under S
        moved = (s.sum(-1) - (s * s_new).sum(-1)).clamp(min=0)  # (B, C) 1 - P(stay)
        src = s - s * s_new  # (B, C, H) the part of each row that leaves its host
        dst = s_new - s * s_new  # (B, C, H) where it goes
        mass = moved.clamp(min=1e-6)[..., None]  # (B, C, 1)
        src_n, dst_n = src / mass, dst / mass  # (B, C, H) normalised source / target rows
        feats = torch.cat(
            [
                torch.bmm(src_n, e),  # (B, C, e) fault embedding of the source host
                torch.bmm(dst_n, e),  # (B, C, e) ... of the target host
                (src_n * flagged[:, None]).sum(-1, keepdim=True),  # (B, C, 1) source flagged
                (dst_n * flagged[:, None]).sum(-1, keepdim=True),  # (B, C, 1) target flagged
                (src_n * count[:, None]).sum(-1, keepdim=True),  # (B, C, 1) source crowding
                (dst_n * count[:, None]).sum(-1, keepdim=True),  # (B, C, 1) target crowding
                (src_n * load[:, None]).sum(-1, keepdim=True),  # (B, C, 1) source CPU load
                (dst_n * load[:, None]).sum(-1, keepdim=True),  # (B, C, 1) target CPU load
            ],
            dim=-1,
        )  # (B, C, 2e + 6)
        pooled = (self.move(feats) * moved[..., None]).sum(1)  # (B, hidden)
        context = torch.cat(
            [pooled, moved.sum(1, keepdim=True) / c, e.flatten(1), count, flagged, load], dim=1
        )
        logits = self.head(context).squeeze(-1)  # (B,)
        return logits.squeeze(0) if squeeze else logits

    def prob_better(
        self, e: torch.Tensor, s: torch.Tensor, s_new: torch.Tensor, load: torch.Tensor
    ) -> torch.Tensor:
        """Probability that S' beats S, same batching as forward."""
        return torch.sigmoid(self.forward(e, s, s_new, load))

    def judge_moves(
        self, e: torch.Tensor, proposal: torch.Tensor, placements: torch.Tensor, load: torch.Tensor
    ) -> torch.Tensor:
        """Probability that each decoded placement beats the proposal, read from host indices:
        e (H, e), proposal (C,) and placements (B, C) int (-1: none), load (H,) -> (B,).

        The decision path (one judgement per interval), bit for bit `prob_better` on the
        one-hot rows of S and S' (tests/models/test_gan.py checks it) at about half the
        cost: with one-hot rows, a moved slot's source and target features are one host's
        value times 1 plus exact zeros, which a gather of that host's row gives exactly, and
        a slot that stays enters the pooled sum times 0 whatever its features are; so the
        (B, C, H) rows, their products and the two (C, H) x (H, e) products are never built.
        Inference only: no gradient reaches the placements.
        """
        b, c = placements.shape
        n_hosts, emb = e.shape
        flagged = (e.abs().sum(-1) > 0).to(e.dtype)  # (H,)
        count = one_hot(proposal, n_hosts).sum(0) / c  # (H,) share of the slots under S
        table = torch.cat(  # (H + 1, e + 3) per host, a zero row at index -1 (= H)
            [
                torch.cat([e, flagged[:, None], count[:, None], load[:, None]], 1),
                e.new_zeros(1, emb + 3),
            ]
        )
        src = table[proposal].expand(b, -1, -1)  # (B, C, e + 3)
        dst = table[placements]  # (B, C, e + 3)
        feats = torch.cat([src, dst], -1)[..., _move_columns(emb)]  # (B, C, 2e + 6)
        moved = ((proposal >= 0) & (placements != proposal)).to(e.dtype)  # (B, C)
        pooled = (self.move(feats) * moved[..., None]).sum(1)  # (B, hidden)
        context = torch.cat(
            [
                pooled,
                moved.sum(1, keepdim=True) / c,
                e.flatten()[None].expand(b, -1),
                count[None].expand(b, -1),
                flagged[None].expand(b, -1),
                load[None].expand(b, -1),
            ],
            dim=1,
        )
        return torch.sigmoid(self.head(context).squeeze(-1))  # (B,)


def _move_columns(embed_dim: int) -> torch.Tensor:
    """Column order of `forward`'s move features taken from [source row, target row] of the
    (e + 3)-wide host table: embeddings of source and target, then flagged, crowding and
    load, each source then target."""
    return torch.from_numpy(_move_column_index(embed_dim))


@lru_cache(maxsize=8)
def _move_column_index(embed_dim: int) -> np.ndarray:
    """`_move_columns` cached as a NumPy array (a tensor cached while a module is exported
    by `OnnxGraph` would be the exporter's fake tensor)."""
    e = embed_dim
    tail = [i for k in range(3) for i in (e + k, 2 * e + 3 + k)]
    return np.array([*range(e), *range(e + 3, 2 * e + 3), *tail], dtype=np.int64)
