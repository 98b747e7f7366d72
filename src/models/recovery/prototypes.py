"""One prototype vector per fault class, for few-shot classification by nearest prototype.

Prototypes are not trained by gradient: as in the original, each one follows a moving average
of the embeddings of its class that are currently placed correctly (nearest to it), with a
factor that starts at `momentum` (0.2 + 0.02 in the original) and decays by `decay` (0.995)
every update step. The encoder meanwhile learns to pull embeddings onto their prototype, so
prototypes act as slowly settling anchors.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PrototypeBank(nn.Module):
    """K prototypes in [0, 1]^E, stored as buffers (they travel with the checkpoint)."""

    def __init__(
        self, n_classes: int, embed_dim: int, momentum: float = 0.22, decay: float = 0.995
    ) -> None:
        super().__init__()
        if n_classes < 2 or embed_dim < 2:
            raise ValueError(
                f"PrototypeBank: need n_classes >= 2 and embed_dim >= 2, got {n_classes}, {embed_dim}"
            )
        if not 0.0 < momentum <= 1.0 or not 0.0 < decay <= 1.0:
            raise ValueError(
                f"PrototypeBank: momentum and decay must lie in (0, 1], got {momentum}, {decay}"
            )
        self.momentum = momentum
        self.decay = decay
        self.register_buffer("vectors", self._initial(n_classes, embed_dim))  # (K, E)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    @staticmethod
    def _initial(n_classes: int, embed_dim: int) -> torch.Tensor:
        """Deterministic, well-separated start: evenly spaced on a circle in the first two dims."""
        angles = torch.arange(n_classes, dtype=torch.float32) * (2 * math.pi / n_classes)  # (K,)
        vectors = torch.full((n_classes, embed_dim), 0.5)  # (K, E)
        vectors[:, 0] += 0.35 * torch.cos(angles)
        vectors[:, 1] += 0.35 * torch.sin(angles)
        return vectors

    @property
    def factor(self) -> float:
        """Current moving-average factor: momentum * decay ** steps."""
        return self.momentum * self.decay ** int(self.steps)

    def sq_distances(self, emb: torch.Tensor) -> torch.Tensor:
        """emb (..., E) -> squared distances to every prototype (..., K)."""
        return ((emb.unsqueeze(-2) - self.vectors) ** 2).sum(-1)  # (..., K)

    def classify(self, emb: torch.Tensor) -> torch.Tensor:
        """emb (..., E) -> index of the nearest prototype (...,), 0-based."""
        return self.sq_distances(emb).argmin(-1)  # (...,)

    @torch.no_grad()
    def update(self, emb: torch.Tensor, target: torch.Tensor) -> None:
        """Move each prototype toward the mean of its correctly placed embeddings.

        emb (M, E), target (M,) 0-based class. Classes with no correct embedding stay put.
        One batched, deterministic step (one-hot matmul, no scatter atomics).
        """
        if emb.shape[0] > 0:
            correct = (self.classify(emb) == target).to(emb.dtype)  # (M,)
            onehot = nn.functional.one_hot(target, self.vectors.shape[0]).to(emb.dtype)  # (M, K)
            weights = onehot * correct.unsqueeze(-1)  # (M, K)
            counts = weights.sum(0)  # (K,)
            sums = weights.t() @ emb  # (K, E)
            present = counts > 0  # (K,)
            means = sums / counts.clamp_min(1).unsqueeze(-1)  # (K, E)
            f = self.factor
            moved = (1 - f) * self.vectors + f * means  # (K, E)
            self.vectors.copy_(torch.where(present.unsqueeze(-1), moved, self.vectors))
        self.steps += 1
