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

import torch
from torch import nn


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
