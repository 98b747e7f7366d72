"""CMODLB's next-interval predictor: a small fully connected autoencoder per host.

The network maps a host's last `window` intervals of (CPU, RAM, disk) utilisation through a
32-unit bottleneck to the next interval's (CPU, RAM, disk). Weights are shared across hosts,
so one model serves any cluster size.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

WATCHED_METRICS: tuple[str, ...] = ("cpu", "ram", "disk", "disk_read", "disk_write")
"""The metrics CMODLB predicts where monitored: CPU, RAM and disk (it never watched network)."""


def predicted_dims(metrics: tuple[str, ...] | list[str]) -> np.ndarray:
    """(P,) indices of the watched metrics in a host_metrics axis named `metrics`."""
    dims = np.array([i for i, m in enumerate(metrics) if m in WATCHED_METRICS], dtype=np.int64)
    if dims.size == 0:
        raise ValueError(f"cmodlb: none of {WATCHED_METRICS} is monitored in {list(metrics)}")
    return dims


class NextIntervalAutoencoder(nn.Module):
    """(B, W, 3) window -> (B, 3) next-interval utilisation."""

    def __init__(self, window: int, hidden: int = 32, n_dims: int = 3) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(window * n_dims, hidden), nn.ReLU())
        self.decoder = nn.Linear(hidden, n_dims)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(window))  # (B, W, 3) -> (B, hidden) -> (B, 3)


class NextIntervalModule(L.LightningModule):
    """Trains the autoencoder with mean squared error on the next interval."""

    def __init__(
        self, window: int = 3, hidden: int = 32, lr: float = 1e-3, n_dims: int = 3
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = NextIntervalAutoencoder(window, hidden, n_dims)
        self.loss = nn.MSELoss()

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return self.net(window)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch  # (B, W, 3), (B, 3)
        loss = self.loss(self.net(x), y)
        self.log("train/loss", loss, prog_bar=True, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.log("val/loss", self.loss(self.net(x), y), prog_bar=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def next_interval_pairs(
    host_metrics: np.ndarray, window: int, dims: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (window, next) pair of one episode's (T, H, D) metrics, hosts pooled.

    Returns X (N, W, 3) and Y (N, 3) float32 with N = (T - W) x H; empty when T <= W.
    """
    series = host_metrics[:, :, dims].astype(np.float32)  # (T, H, 3)
    t, n_hosts, n_dims = series.shape
    if t <= window:
        empty = np.empty((0, window, n_dims), dtype=np.float32)
        return empty, np.empty((0, n_dims), dtype=np.float32)
    windows = sliding_window_view(series[:-1], window, axis=0)  # (T - W, H, 3, W)
    x = windows.transpose(0, 1, 3, 2).reshape(-1, window, n_dims)  # (N, W, 3)
    y = series[window:].reshape(-1, n_dims)  # (N, 3)
    return np.ascontiguousarray(x), y


def latest_windows(host_metrics: np.ndarray, window: int, dims: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 of each host's last `window` intervals; a short history is
    left-padded with its first interval, so a prediction exists from t = 1."""
    series = host_metrics[-window:, :, dims].astype(np.float32)  # (w, H, 3)
    if series.shape[0] < window:
        pad = np.repeat(series[:1], window - series.shape[0], axis=0)
        series = np.concatenate([pad, series], axis=0)  # (W, H, 3)
    return np.ascontiguousarray(series.transpose(1, 0, 2))  # (H, W, 3)
