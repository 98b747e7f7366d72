"""GOBI's neural surrogate: predicted 0.8*energy + 0.2*latency of a (relaxed) placement.

Inputs are the original's: host CPU utilisation (H,), container CPU demand (C,) and the
(C, H) one-hot placement. The original feeds them, flattened, to one MLP; here the objective
is a sum over hosts of one MLP shared by every host, applied to what the placement puts on
that host: its last CPU utilisation, the CPU demand placed on it (placement^T @ container CPU)
and the number of containers placed on it. Energy is a sum of per-host power draws and a
container's latency depends on the load of its own host, so the objective is additive over
hosts; the shared MLP learns it once for every host, and its cost is O(H) instead of
O(C x H) weights (the flat MLP had 64 x (C x H) first-layer weights: 73 ms per GOBI placement
at 200 hosts and 21.5 s at 1000, `benchmarks/bench_pregan.py`). Three inputs per host need
far less width than the flat MLP's 64: 16 hidden units by default (each of GOBI's up to 200
gradient steps evaluates it on every host).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class PlacementSurrogate(nn.Module):
    """(host_cpu (B, H), container_cpu (B, C), placement (B, C, H)) -> objective (B,)."""

    N_HOST_FEATURES = 3  # CPU utilisation, placed CPU demand, containers placed

    def __init__(self, n_hosts: int, n_slots: int, hidden: int = 16) -> None:
        super().__init__()
        if min(n_hosts, n_slots, hidden) <= 0:
            raise ValueError(
                f"PlacementSurrogate: sizes must be positive, got n_hosts={n_hosts}, "
                f"n_slots={n_slots}, hidden={hidden}"
            )
        self.n_hosts, self.n_slots = n_hosts, n_slots
        self.net = nn.Sequential(
            nn.Linear(self.N_HOST_FEATURES, hidden),
            nn.Softplus(),
            nn.Linear(hidden, hidden),
            nn.Softplus(),
            nn.Linear(hidden, 1),
        )

    def forward(
        self, host_cpu: torch.Tensor, container_cpu: torch.Tensor, placement: torch.Tensor
    ) -> torch.Tensor:
        load = torch.einsum("bch,bc->bh", placement, container_cpu)  # (B, H) placed demand
        count = placement.sum(1)  # (B, H) containers placed
        x = torch.stack([host_cpu, load, count], dim=-1)  # (B, H, 3)
        return self.net(x).squeeze(-1).mean(-1)  # (B,)

    def host_grad(
        self,
        host_cpu: np.ndarray,
        load: np.ndarray,
        count: np.ndarray,
        weights: tuple[np.ndarray, ...] | None = None,
        n_hosts: int | None = None,
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Objective and its gradients w.r.t. each host's placed load and count, in NumPy:
        (y, dy/dload (H,), dy/dcount (H,)). host_cpu, load, count (H,). `weights`: those of
        `numpy_weights()`, fetched once by a caller that evaluates many placements.
        `n_hosts`: the cluster's host count when the H given are a subset of its hosts (the
        objective is a mean over all of them); y is then this subset's share of it.

        Hand-derived backpropagation through this fixed architecture: GOBI takes up to 200
        gradient steps per scheduling decision on a network this small, where autograd's
        per-operation overhead is most of the cost. Equal to autograd (tested).
        """
        w1, b1, w2, b2, w3, b3 = self.numpy_weights() if weights is None else weights
        n = host_cpu.shape[0] if n_hosts is None else n_hosts
        z = np.stack([host_cpu, load, count], axis=1)  # (H, 3)
        a1 = z @ w1.T + b1  # (H, hidden)
        s1, g1 = _softplus_and_sigmoid(a1)
        a2 = s1 @ w2.T + b2
        s2, g2 = _softplus_and_sigmoid(a2)
        y = float((s2 @ w3[0] + b3[0]).sum() / n)
        da2 = g2 * (w3[0] / n)  # (H, hidden) dy/da2 = w3 * sigmoid(a2) / H
        da1 = (da2 @ w2) * g1  # (H, hidden)
        dz = da1 @ w1  # (H, 3)
        return y, dz[:, 1], dz[:, 2]

    def placement_grad(
        self, host_cpu: np.ndarray, container_cpu: np.ndarray, placement: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Objective and its gradient w.r.t. one dense (C, H) placement, in NumPy."""
        load = container_cpu @ placement  # (H,)
        y, g_load, g_count = self.host_grad(host_cpu, load, placement.sum(0))
        return y, np.outer(container_cpu, g_load) + g_count[None, :]  # (C, H)

    def numpy_weights(self) -> tuple[np.ndarray, ...]:
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


def _softplus_and_sigmoid(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log(1 + e^a), its derivative sigmoid(a)), stable, sharing one exp(-|a|); the softplus
    ~30x faster than np.logaddexp(0, a) on small arrays."""
    e = np.exp(-np.abs(a))
    sig = np.where(a >= 0.0, 1.0, e) / (1.0 + e)
    return np.maximum(a, 0.0) + np.log1p(e), sig
