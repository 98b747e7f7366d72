"""The per-entity heads on top of the encoder's latent vectors.

- AnomalyHead: 2-way logits (normal, faulty), as the original's softmax anomaly head.
- PrototypeHead: a sigmoid embedding in [0, 1]^E, compared with the fault-class prototypes.
- DiagnosisHead: one root-cause logit per feature dimension. It is trained on the injected
  root-cause sets, and sees the normalised last step and the within-window change of each
  dimension beside the latent, so that its ranking rests on what each dimension actually did
  rather than on a 10-wide bottleneck.
"""

from __future__ import annotations

import torch
from torch import nn


class AnomalyHead(nn.Module):
    """latent (B, N, L) -> logits (B, N, 2)."""

    def __init__(self, latent: int, hidden: int = 32) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mlp(z)  # (B, N, 2)


class PrototypeHead(nn.Module):
    """latent (B, N, L) -> embedding (B, N, E) in [0, 1]^E (sigmoid, as the original)."""

    def __init__(self, latent: int, embed_dim: int, hidden: int = 32) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, embed_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.mlp(z))  # (B, N, E)


class DiagnosisHead(nn.Module):
    """(latent (B, N, L), normalised window (B, W, N, F)) -> root-cause logits (B, N, F).

    Weights are shared across dimensions: each dimension's logit comes from the same MLP over
    [latent, that dimension's last value, its change over the window, a learned code of the
    dimension], so the head ranks dimensions by comparable evidence. The first layer is split
    into its three parts and summed, so the latent is projected once per host, not per
    dimension (no (B, N, F, L) concatenation).
    """

    def __init__(self, latent: int, n_features: int, hidden: int = 32) -> None:
        super().__init__()
        self.from_latent = nn.Linear(latent, hidden)
        self.from_values = nn.Linear(2, hidden, bias=False)
        self.dim_code = nn.Parameter(torch.zeros(n_features, hidden))  # (F, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        per_dim = torch.stack([x[:, -1], x[:, -1] - x[:, 0]], dim=-1)  # (B, N, F, 2)
        hidden = (
            self.from_latent(z).unsqueeze(2)  # (B, N, 1, hidden)
            + self.from_values(per_dim)  # (B, N, F, hidden)
            + self.dim_code  # (F, hidden)
        )  # (B, N, F, hidden)
        return self.out(torch.relu(hidden)).squeeze(-1)  # (B, N, F)
