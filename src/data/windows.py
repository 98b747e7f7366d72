"""Sliding windows over episodes, with per-host labels, for the fault classifier.

A window ending at interval t holds intervals t-W+1..t of every host's metrics, and is labelled
with the truth of interval t: this is what a policy sees at the start of interval t+1 and is
scored against (docs/ARCHITECTURE.md). Windows that would start before interval 0 repeat
interval 0 (edge padding), so every interval yields a window and the first decisions of an
episode are made on the same kind of input as in training (`live_inputs` does the same online).

Beside the metrics, each window carries the scheduler's placement as the number of containers
on each host in each interval, relative to an even spread (count * H / C): PreGAN's input is the
metrics window plus the placement matrix S (PREGAN.md §3 step 1). Episodes without a placement
(foreign traces such as SMD) give windows without it. Episodes that record it also give a demand channel: the base CPU demand the scheduler placed on each host,
over its capacity (`host_demand`). Online, `live_inputs` computes the same channels with the
same function (`window_channels`) from the observation's histories (`host_metrics`,
`placement_history`, `host_demand`), so training and serving inputs are equal by
construction (tests/data/test_windows.py checks it on the real simulator).

Normalisation statistics (per-feature mean and standard deviation) come from the training
split only; the module stores them in its checkpoint and normalises raw windows itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset


class WindowDataError(ValueError):
    """Episodes that cannot be windowed; the message names the split, episode and field."""


@dataclass(frozen=True)
class WindowArrays:
    """All windows of a split, as stacked arrays."""

    windows: np.ndarray  # (N, W, H, D) float32, raw (unnormalised)
    faulty: np.ndarray  # (N, H) int64, 1 if the host is faulty at the window's last interval
    fault_class: np.ndarray  # (N, H) int64, 0..K
    root_cause: np.ndarray  # (N, H, D) float32 in {0, 1}
    containers: np.ndarray | None = None  # (N, W, H) float32 containers per host * H / C
    demand: np.ndarray | None = None  # (N, W, H) float32 placed CPU demand / capacity


def container_share(placement: np.ndarray, n_hosts: int) -> np.ndarray:
    """(..., C) host of each slot (-1 none) -> (..., H) float32 containers per host * H / C.

    Relative to an even spread, so that 1.0 means "a fair share" at any cluster size.
    """
    placement = np.asarray(placement)
    n_slots = placement.shape[-1]
    flat = placement.reshape(-1, n_slots).astype(np.int64)  # (M, C)
    rows = np.repeat(np.arange(flat.shape[0]), n_slots)  # (M*C,)
    keep = flat.ravel() >= 0
    counts = np.zeros((flat.shape[0], n_hosts + 1))  # (M, H+1); no-host lands nowhere
    np.add.at(counts, (rows[keep], flat.ravel()[keep]), 1.0)
    share = counts[:, :n_hosts] * (n_hosts / max(n_slots, 1))  # (M, H)
    return share.reshape(*placement.shape[:-1], n_hosts).astype(np.float32)  # (..., H)


def window_indices(n_intervals: int, window: int) -> np.ndarray:
    """(T, W) interval indices of the window ending at each t, clipped at 0 (edge padding)."""
    ends = np.arange(n_intervals)[:, None]  # (T, 1)
    offsets = np.arange(-window + 1, 1)[None, :]  # (1, W)
    return np.clip(ends + offsets, 0, None)  # (T, W)


def window_channels(
    host_metrics: np.ndarray,
    placement: np.ndarray | None,
    host_demand: np.ndarray | None,
    window: int,
    ends: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Every classifier input channel of the windows ending at `ends` (default: every
    interval) of a (T, H, D) history: metrics (N, W, H, D), containers per host relative to
    an even spread (N, W, H) from the (T, C) placement during each interval, and placed CPU
    demand over capacity (N, W, H) from (T, H) host_demand (None where the source is None).

    The one function behind both the training windows (`episode_windows`) and a policy's
    live input (`live_inputs`, from the same histories in the Observation), so the two
    cannot drift apart (train/serve parity).
    """
    t, h, _ = host_metrics.shape
    idx = window_indices(t, window)  # (T, W)
    if ends is not None:
        idx = idx[ends]  # (N, W)
    windows = np.ascontiguousarray(np.asarray(host_metrics, dtype=np.float32)[idx])
    containers = None if placement is None else container_share(placement[:t], h)[idx]
    demand = None if host_demand is None else np.asarray(host_demand, np.float32)[idx]
    return windows, containers, demand


def live_inputs(
    obs: Any, window: int, containers: bool = True, demand: bool = True
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The classifier's inputs at the start of interval obs.t >= 1: the window (W, H, D) and,
    where asked for, the containers and demand channels (W, H), computed by
    `window_channels` from the observation's histories exactly as in training."""
    history = obs.host_metrics
    if history.ndim != 3 or history.shape[0] < 1:
        raise WindowDataError(f"history: expected (t >= 1, H, D), got shape {history.shape}")
    placement = obs.placement_history if containers else None
    host_demand = obs.host_demand if demand else None
    if containers and placement is None:
        raise WindowDataError("placement_history: the observation carries no placement history")
    if demand and host_demand is None:
        raise WindowDataError("host_demand: the observation carries no demand history")
    w, c, d = window_channels(history, placement, host_demand, window, np.array([-1]))
    return w[0], None if c is None else c[0], None if d is None else d[0]


def _field(episode: Any, name: str) -> np.ndarray:
    if isinstance(episode, dict):
        return np.asarray(episode[name])
    return np.asarray(getattr(episode, name))


def _optional(episode: Any, name: str) -> np.ndarray | None:
    value = episode.get(name) if isinstance(episode, dict) else getattr(episode, name, None)
    return None if value is None else np.asarray(value)


def episode_windows(episode: Any, window: int, where: str) -> WindowArrays:
    """Windows and labels of one episode (anything with host_metrics, fault_class, fault_truth)."""
    try:
        metrics = _field(episode, "host_metrics")
        fclass = _field(episode, "fault_class")
        truth = _field(episode, "fault_truth")
    except (KeyError, AttributeError) as err:
        raise WindowDataError(f"{where}: missing field {err}") from None
    if metrics.ndim != 3:
        raise WindowDataError(f"{where}: host_metrics must be (T, H, D), got shape {metrics.shape}")
    t, h, d = metrics.shape
    if fclass.shape != (t, h):
        raise WindowDataError(f"{where}: fault_class has shape {fclass.shape}, expected {(t, h)}")
    if truth.shape != (t, h, d):
        raise WindowDataError(f"{where}: fault_truth has shape {truth.shape}, expected {(t, h, d)}")
    if not np.isfinite(metrics).all():
        raise WindowDataError(f"{where}: host_metrics contains NaN or infinite values")
    if fclass.min(initial=0) < 0:
        raise WindowDataError(f"{where}: fault_class has negative value {fclass.min()}")
    placement = _optional(episode, "placement")
    if placement is not None:
        if placement.ndim != 2 or placement.shape[0] != t:
            raise WindowDataError(
                f"{where}: placement has shape {placement.shape}, expected ({t}, C)"
            )
        if placement.size and (placement.min() < -1 or placement.max() >= h):
            raise WindowDataError(
                f"{where}: placement host indices must be in [-1, {h}), got "
                f"[{placement.min()}, {placement.max()}]"
            )
    host_demand = _optional(episode, "host_demand")
    if host_demand is not None:
        if host_demand.shape != (t, h):
            raise WindowDataError(
                f"{where}: host_demand has shape {host_demand.shape}, expected {(t, h)}"
            )
        if not np.isfinite(host_demand).all() or host_demand.min(initial=0) < 0:
            raise WindowDataError(f"{where}: host_demand must be finite and >= 0")
    windows, containers, demand = window_channels(metrics, placement, host_demand, window)
    return WindowArrays(
        windows=windows,  # (T, W, H, D)
        faulty=(fclass > 0).astype(np.int64),  # (T, H)
        fault_class=fclass.astype(np.int64),  # (T, H)
        root_cause=truth.astype(np.float32),  # (T, H, D)
        containers=containers,
        demand=demand,
    )


def split_windows(episodes: Sequence[Any], window: int, split: str) -> WindowArrays:
    """Windows of every episode of a split, concatenated; all episodes must share (H, D)."""
    if len(episodes) == 0:
        raise WindowDataError(f"{split}: no episodes")
    parts = [episode_windows(ep, window, f"{split} episode {i}") for i, ep in enumerate(episodes)]
    shape = parts[0].windows.shape[2:]
    for i, part in enumerate(parts):
        if part.windows.shape[2:] != shape:
            raise WindowDataError(
                f"{split} episode {i}: (H, D) = {part.windows.shape[2:]}, episode 0 has {shape}"
            )
    optional = {"containers": "placement", "demand": "host_demand"}
    arrays = {
        name: np.concatenate([getattr(p, name) for p in parts])
        for name in WindowArrays.__dataclass_fields__
        if name not in optional
    }
    for name, source in optional.items():
        present = [getattr(p, name) is not None for p in parts]
        if any(present) and not all(present):
            missing = present.index(False)
            raise WindowDataError(
                f"{split} episode {missing}: no {source}, while other episodes of the split have one"
            )
        if all(present):
            arrays[name] = np.concatenate([getattr(p, name) for p in parts])  # (N, W, H)
    return WindowArrays(**arrays)


def _load(source: str | Path | Sequence[Any], split: str) -> Sequence[Any]:
    if isinstance(source, str | Path):
        # Imported here: the episode store is only needed when reading folders.
        from pregan.data.episodes import load_split

        return load_split(Path(source))
    return source


class WindowDataModule(L.LightningDataModule):
    """Windows (N, W, H, D) with labels from train/val/test episodes, float32, seeded shuffling.

    Each split is an episode folder (read with `pregan.data.episodes.load_split`) or an
    in-memory sequence of episodes (objects or dicts with host_metrics, fault_class,
    fault_truth and optionally placement and host_demand). After `setup()`: `n_hosts`,
    `n_features`, `feature_mean`, `feature_std` (training split only), `faulty_fraction`
    (training split), `has_placement` and `has_demand` (every split has the containers /
    demand channel) describe the data. Batches are (windows, faulty, fault_class, root_cause,
    containers, demand); containers and demand are all zeros where the episodes lack them (a
    model that reads them refuses such data).
    """

    def __init__(
        self,
        train: str | Path | Sequence[Any],
        val: str | Path | Sequence[Any],
        test: str | Path | Sequence[Any] | None = None,
        window: int = 3,
        batch_size: int = 128,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if window < 1 or batch_size < 1:
            raise WindowDataError(f"window and batch_size must be >= 1, got {window}, {batch_size}")
        self.sources = {"train": train, "val": val, "test": test}
        self.window = window
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.splits: dict[str, WindowArrays] = {}
        self.feature_mean: np.ndarray | None = None  # (D,)
        self.feature_std: np.ndarray | None = None  # (D,)
        self.faulty_fraction: float | None = None

    @property
    def n_hosts(self) -> int:
        return int(self._train().windows.shape[2])

    @property
    def n_features(self) -> int:
        return int(self._train().windows.shape[3])

    @property
    def has_placement(self) -> bool:
        self._train()
        return all(a.containers is not None for a in self.splits.values())

    @property
    def has_demand(self) -> bool:
        self._train()
        return all(a.demand is not None for a in self.splits.values())

    def _train(self) -> WindowArrays:
        if "train" not in self.splits:
            raise RuntimeError("WindowDataModule: call setup() before reading data properties")
        return self.splits["train"]

    def setup(self, stage: str | None = None) -> None:
        for split, source in self.sources.items():
            if source is None or split in self.splits:
                continue
            self.splits[split] = split_windows(_load(source, split), self.window, split)
        train = self.splits["train"]
        for split, arrays in self.splits.items():
            if arrays.windows.shape[2:] != train.windows.shape[2:]:
                raise WindowDataError(
                    f"{split}: (H, D) = {arrays.windows.shape[2:]}, train has {train.windows.shape[2:]}"
                )
        # Statistics over each interval once (the last row of every window), not per window.
        rows = train.windows[:, -1]  # (N, H, D)
        self.feature_mean = rows.mean(axis=(0, 1)).astype(np.float32)  # (D,)
        std = rows.std(axis=(0, 1)).astype(np.float32)  # (D,)
        self.feature_std = np.where(std > 1e-6, std, 1.0).astype(np.float32)  # (D,)
        self.faulty_fraction = float(train.faulty.mean())

    def _dataset(self, split: str) -> TensorDataset:
        if split not in self.splits:
            raise WindowDataError(f"{split}: no episodes were given for this split")
        a = self.splits[split]
        n, w, h, _ = a.windows.shape
        zeros = np.zeros((n, w, h), np.float32)
        containers = a.containers if a.containers is not None else zeros
        demand = a.demand if a.demand is not None else zeros
        return TensorDataset(
            torch.from_numpy(a.windows),  # (N, W, H, D)
            torch.from_numpy(a.faulty),  # (N, H)
            torch.from_numpy(a.fault_class),  # (N, H)
            torch.from_numpy(a.root_cause),  # (N, H, D)
            torch.from_numpy(containers),  # (N, W, H)
            torch.from_numpy(demand),  # (N, W, H)
        )

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self._dataset("train"),
            batch_size=self.batch_size,
            shuffle=True,
            generator=generator,
            num_workers=self.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            self._dataset("val"), batch_size=self.batch_size, num_workers=self.num_workers
        )

    def test_dataloader(self) -> DataLoader:
        return DataLoader(
            self._dataset("test"), batch_size=self.batch_size, num_workers=self.num_workers
        )
