"""PreGAN's discriminator: does the candidate placement S' beat the proposal S?

Besides (S, S') it sees E, the prototype embeddings of the hosts flagged faulty (zeros for
the others): from placements alone, whether moving a container helps is unidentifiable,
since the same move is good off a faulty host and useless (it only costs a migration) off a
healthy one.
"""

from __future__ import annotations

import torch
from torch import nn


class Discriminator(nn.Module):
    """Maps (E (H, e), S (C, H), S' (C, H)) to the logit of "S' is better than S"."""

    def __init__(self, n_hosts: int, n_slots: int, embed_dim: int, hidden: int = 64) -> None:
        super().__init__()
        if min(n_hosts, n_slots, embed_dim, hidden) <= 0:
            raise ValueError(
                f"Discriminator: sizes must be positive, got n_hosts={n_hosts}, "
                f"n_slots={n_slots}, embed_dim={embed_dim}, hidden={hidden}"
            )
        self.n_hosts, self.n_slots, self.embed_dim = n_hosts, n_slots, embed_dim
        self.net = nn.Sequential(
            nn.Linear(n_hosts * embed_dim + 2 * n_slots * n_hosts, hidden),
            nn.LeakyReLU(),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, e: torch.Tensor, s: torch.Tensor, s_new: torch.Tensor) -> torch.Tensor:
        """e (B, H, e), s (B, C, H), s_new (B, C, H) -> logits (B,); unbatched inputs give ()."""
        squeeze = s.dim() == 2
        if squeeze:
            e, s, s_new = e.unsqueeze(0), s.unsqueeze(0), s_new.unsqueeze(0)
        # The difference makes "which containers moved where" a first-order feature.
        x = torch.cat([e.flatten(1), s.flatten(1), (s_new - s).flatten(1)], dim=1)  # (B, ...)
        logits = self.net(x).squeeze(-1)  # (B,)
        return logits.squeeze(0) if squeeze else logits

    def prob_better(self, e: torch.Tensor, s: torch.Tensor, s_new: torch.Tensor) -> torch.Tensor:
        """Probability that S' beats S, same batching as forward."""
        return torch.sigmoid(self.forward(e, s, s_new))
