"""GOBI's neural surrogate: predicted 0.8*energy + 0.2*latency of a (relaxed) placement.

Inputs are the original's: host CPU utilisation (H,), container CPU demand (C,) and the
(C, H) one-hot placement. The projected load of each host, placement^T @ container CPU, is
computed inside the model from those inputs: it is linear in the placement, so gradient
descent on a relaxed placement sees directly how moving demand changes each host.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class PlacementSurrogate(nn.Module):
    """(host_cpu (B, H), container_cpu (B, C), placement (B, C, H)) -> objective (B,)."""

    def __init__(self, n_hosts: int, n_slots: int, hidden: int = 64) -> None:
        super().__init__()
        if min(n_hosts, n_slots, hidden) <= 0:
            raise ValueError(
                f"PlacementSurrogate: sizes must be positive, got n_hosts={n_hosts}, "
                f"n_slots={n_slots}, hidden={hidden}"
            )
        self.n_hosts, self.n_slots = n_hosts, n_slots
        self.net = nn.Sequential(
            nn.Linear(2 * n_hosts + n_slots + n_slots * n_hosts, hidden),
            nn.Softplus(),
            nn.Linear(hidden, hidden),
            nn.Softplus(),
            nn.Linear(hidden, 1),
        )

    def forward(
        self, host_cpu: torch.Tensor, container_cpu: torch.Tensor, placement: torch.Tensor
    ) -> torch.Tensor:
        load = torch.einsum("bch,bc->bh", placement, container_cpu)  # (B, H) projected demand
        x = torch.cat([host_cpu, load, container_cpu, placement.flatten(1)], dim=1)  # (B, F)
        return self.net(x).squeeze(-1)  # (B,)

    def placement_grad(
        self, host_cpu: np.ndarray, container_cpu: np.ndarray, placement: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Objective and its gradient w.r.t. one (C, H) placement, in NumPy.

        Hand-derived backpropagation through this fixed architecture: GOBI takes up to 200
        gradient steps per scheduling decision on a network this small, where autograd's
        per-operation overhead is most of the cost. Equal to autograd (tested).
        host_cpu (H,), container_cpu (C,), placement (C, H).
        """
        w1, b1, w2, b2, w3, b3 = self._numpy_weights()
        h = self.n_hosts
        load = container_cpu @ placement  # (H,)
        z = np.concatenate([host_cpu, load, container_cpu, placement.ravel()])  # (F,)
        a1 = w1 @ z + b1  # (hidden,)
        s1 = np.logaddexp(0.0, a1)  # softplus
        a2 = w2 @ s1 + b2
        s2 = np.logaddexp(0.0, a2)
        y = float(w3[0] @ s2 + b3[0])
        da2 = w3[0] / (1.0 + np.exp(-a2))  # (hidden,) dy/da2 = w3 * sigmoid(a2)
        da1 = (w2.T @ da2) / (1.0 + np.exp(-a1))  # (hidden,)
        dz = w1.T @ da1  # (F,)
        grad = dz[2 * h + self.n_slots :].reshape(placement.shape)  # (C, H) direct term
        grad = grad + np.outer(container_cpu, dz[h : 2 * h])  # (C, H) through the loads
        return y, grad

    def _numpy_weights(self) -> tuple[np.ndarray, ...]:
        """The MLP's weights as float64 NumPy arrays, cached until the parameters change."""
        version = tuple(p._version for p in self.parameters())
        if getattr(self, "_np_cache", (None,))[0] != version:
            layers = [m for m in self.net if isinstance(m, nn.Linear)]
            arrays = []
            for layer in layers:
                arrays += [
                    layer.weight.detach().double().numpy(),
                    layer.bias.detach().double().numpy(),
                ]
            self._np_cache = (version, tuple(arrays))
        return self._np_cache[1]
