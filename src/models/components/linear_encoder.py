"""The original's older encoder: one linear layer over each entity's flattened window.

Kept for the ablation (conf/classifier/linear.yaml). It has FPEEncoder's signature so the two
are interchangeable; `heads`, `gat_heads` and `hidden` have nothing to act on here and are
ignored.
"""

from __future__ import annotations

import torch
from torch import nn


class LinearEncoder(nn.Module):
    """x (B, W, N, F) -> (B, N, latent) by one linear map of each entity's W*F values."""

    def __init__(
        self,
        n_features: int,
        window: int,
        latent: int,
        heads: int = 1,
        gat_heads: int = 1,
        hidden: int = 32,
    ) -> None:
        super().__init__()
        for name, value in (("n_features", n_features), ("window", window), ("latent", latent)):
            if value < 1:
                raise ValueError(f"LinearEncoder: {name} must be >= 1, got {value}")
        self.n_features = n_features
        self.window = window
        self.linear = nn.Linear(window * n_features, latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, W, N, F) -> (B, N, latent)."""
        b, w, n, f = x.shape
        if w != self.window or f != self.n_features:
            raise ValueError(
                f"LinearEncoder: input (B, W, N, F) = {tuple(x.shape)}, expected W={self.window}, F={self.n_features}"
            )
        flat = x.permute(0, 2, 1, 3).reshape(b, n, w * f)  # (B, N, W*F)
        return self.linear(flat)  # (B, N, latent)
