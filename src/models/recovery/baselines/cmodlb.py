"""CMODLB: learned next-interval prediction and 2-means overload detection (PREGAN.md §4).

A small autoencoder (`cmodlb_predictor`) predicts each host's next (CPU, RAM, disk)
utilisation; k-means with k = 2 (seeded, `kmeans`) splits the hosts' predictions. When the two centres differ
enough (sum over dimensions of |centre difference| >= `separation_per_host` x hosts), the
hosts of the higher centre are overloaded and each sheds its minimum-migration-time container
to the least-loaded feasible host.

The separation rule is the original's and is kept as is: because it grows with the host
count while utilisations are fractions (the sum over three dimensions is at most 3), it can
never fire above 120 hosts at the default 0.025. `separation_per_host` is configurable.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from pregan.models.interfaces import FitContext
from pregan.models.recovery.baselines.cmodlb_predictor import (
    NextIntervalModule,
    latest_windows,
    next_interval_pairs,
    predicted_dims,
)
from pregan.models.recovery.baselines.kmeans import kmeans
from pregan.models.recovery.baselines.migration import migrate_mmt
from pregan.models.recovery.baselines.selection import by_priority
from pregan.simulation.interfaces import ClusterSpec, Observation, RecoveryDecision
from pregan.simulation.placement import least_loaded

UNWATCHED_DIM_SCORE = -1.0
"""dim_scores of resources CMODLB does not predict (network): below any utilisation."""


class CMODLBDataError(ValueError):
    """Training metrics for CMODLB are malformed; the message names the episode and field."""


class CMODLBNotFittedError(RuntimeError):
    """CMODLB's policy was requested before its predictor was trained."""


class CMODLBPolicy:
    """Predicted (CPU, RAM, disk) -> 2-means -> higher cluster overloaded -> MMT -> least loaded."""

    def __init__(
        self,
        predictor: torch.nn.Module,
        window: int,
        separation_per_host: float = 0.025,
        n_init: int = 4,
        seed: int = 0,
        name: str = "cmodlb",
        metrics: tuple[str, ...] = ("cpu", "ram", "disk"),
    ) -> None:
        self.name = name
        self.metrics = tuple(metrics)  # the watched metrics it was trained on, in order
        self.dims = np.arange(len(self.metrics))  # their columns, set from the spec at reset
        self.predictor = predictor.eval()
        self.window = window
        self.separation_per_host = separation_per_host
        self.n_init = n_init
        self.seed = seed

    def reset(self, spec: ClusterSpec) -> None:
        """Stateless between intervals: the window is read from the observed history."""
        self.dims = predicted_dims(spec.metrics)
        watched = tuple(spec.metrics[i] for i in self.dims)
        if watched != self.metrics:
            raise CMODLBDataError(
                f"cmodlb: trained on metrics {list(self.metrics)}, the cluster reports {list(watched)}"
            )

    @torch.no_grad()
    def predict(self, host_metrics: np.ndarray) -> np.ndarray:
        """(H, P) float32 predicted next-interval watched metrics (CPU, RAM, disk) per host."""
        windows = torch.from_numpy(
            latest_windows(host_metrics, self.window, self.dims)
        )  # (H, W, P)
        return self.predictor(windows).numpy()  # (H, 3)

    def overloaded(self, predicted: np.ndarray, up: np.ndarray) -> np.ndarray:
        """(H,) bool: up hosts in the higher of two well-separated k-means clusters."""
        candidates = np.flatnonzero(up)
        points = predicted[candidates].astype(np.float64)  # (U, 3)
        flags = np.zeros(predicted.shape[0], dtype=bool)
        if candidates.size < 2 or np.ptp(points, axis=0).max() <= 1e-9:
            return flags  # fewer than two distinct points: no second cluster to speak of
        labels, centres = kmeans(points, 2, self.n_init, np.random.default_rng(self.seed))
        if np.abs(centres[0] - centres[1]).sum() < self.separation_per_host * predicted.shape[0]:
            return flags
        high = int(np.argmax(centres.sum(axis=1)))
        flags[candidates[labels == high]] = True
        return flags

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        n_hosts = obs.spec.n_hosts
        n_metrics = obs.host_metrics.shape[-1]
        dim_scores = np.full((n_hosts, n_metrics), UNWATCHED_DIM_SCORE, dtype=np.float32)
        if obs.t == 0:
            return RecoveryDecision(
                placement=proposal.copy(),
                host_scores=np.zeros(n_hosts, dtype=np.float32),
                host_flags=np.zeros(n_hosts, dtype=bool),
                dim_scores=dim_scores,
            )
        predicted = self.predict(obs.host_metrics)  # (H, 3)
        dim_scores[:, self.dims] = predicted
        score = predicted.mean(axis=1)  # (H,)
        flags = self.overloaded(predicted, obs.host_up)
        sources = by_priority(flags, score)
        return RecoveryDecision(
            placement=migrate_mmt(obs, proposal, sources, least_loaded),
            host_scores=score.astype(np.float32),
            host_flags=flags,
            dim_scores=dim_scores,
        )


def _pairs(
    episodes: Sequence[np.ndarray], window: int, split: str, dims: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pool the (window, next) pairs of every episode; validates each (T, H, D) array."""
    xs, ys = [], []
    for i, metrics in enumerate(episodes):
        arr = np.asarray(metrics)
        if arr.ndim != 3 or arr.shape[2] <= dims.max():
            raise CMODLBDataError(
                f"cmodlb {split} episode {i}: host_metrics must be (T, H, D>{dims.max()}), "
                f"got {arr.shape}"
            )
        if not np.isfinite(arr).all():
            raise CMODLBDataError(f"cmodlb {split} episode {i}: host_metrics has NaN or inf")
        x, y = next_interval_pairs(arr, window, dims)
        xs.append(x)
        ys.append(y)
    if not xs or sum(len(x) for x in xs) == 0:
        raise CMODLBDataError(
            f"cmodlb {split}: no episode longer than the window ({window} intervals)"
        )
    return np.concatenate(xs), np.concatenate(ys)


def _episode_metrics(folder: Path) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """(T, H, D) host metrics of every episode saved in a split folder, and the metric names."""
    from pregan.data.episodes import load_split

    records = load_split(folder)
    return [record.host_metrics for record in records], records[0].metrics


class CMODLBMethod:
    """CMODLB as a `Method`: `fit` trains the predictor with a Lightning Trainer."""

    def __init__(
        self,
        name: str = "cmodlb",
        window: int = 3,
        hidden: int = 32,
        lr: float = 1e-3,
        batch_size: int = 256,
        max_epochs: int = 10,
        separation_per_host: float = 0.025,
        n_init: int = 4,
    ) -> None:
        self.name = name
        self.window = window
        self.hidden = hidden
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.separation_per_host = separation_per_host
        self.n_init = n_init
        self._policy: CMODLBPolicy | None = None
        self._checkpoint: Path | None = None

    def fit(self, ctx: FitContext) -> dict[str, float]:
        """Train on the training split's episodes, validate on the validation split's."""
        train, names = _episode_metrics(ctx.train_dir)
        val, _ = _episode_metrics(ctx.val_dir)
        return self.fit_arrays(
            train,
            val,
            metrics=names,
            trainer_cfg=ctx.trainer_cfg,
            loggers=ctx.loggers,
            output_dir=ctx.output_dir,
            seed=ctx.seed,
        )

    def fit_arrays(
        self,
        train: Sequence[np.ndarray],
        val: Sequence[np.ndarray],
        trainer_cfg: Any,
        loggers: list[Any] | None = None,
        output_dir: Path | None = None,
        seed: int = 0,
        metrics: Sequence[str] = ("cpu", "ram", "disk"),
    ) -> dict[str, float]:
        """Train from in-memory (T, H, D) episode metrics whose last axis is named `metrics`
        (the watched ones are predicted); returns the final losses."""
        dims = predicted_dims(list(metrics))
        from hydra.utils import instantiate
        from lightning.pytorch.callbacks import ModelCheckpoint

        x_train, y_train = _pairs(train, self.window, "train", dims)
        x_val, y_val = _pairs(val, self.window, "val", dims)
        with torch.random.fork_rng():
            torch.manual_seed(seed)  # seeded initialisation without touching the caller's RNG
            module = NextIntervalModule(self.window, self.hidden, self.lr, n_dims=len(dims))
        train_loader = DataLoader(
            TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train)),
            batch_size=self.batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )
        val_loader = DataLoader(
            TensorDataset(torch.from_numpy(x_val), torch.from_numpy(y_val)),
            batch_size=self.batch_size,
        )
        callbacks = []
        overrides: dict[str, Any] = {"max_epochs": self.max_epochs}
        if output_dir is not None:
            checkpoint = ModelCheckpoint(
                dirpath=Path(output_dir) / "checkpoints" / "cmodlb",
                filename="cmodlb-{epoch:03d}",
                monitor="val/loss",
                mode="min",
                save_top_k=1,
            )
            callbacks.append(checkpoint)
            overrides["default_root_dir"] = str(output_dir)
        else:
            overrides["enable_checkpointing"] = False
        trainer = instantiate(
            trainer_cfg,
            logger=list(loggers) if loggers else False,
            callbacks=callbacks,
            **overrides,
        )
        trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader)
        if callbacks and callbacks[0].best_model_path:
            self._checkpoint = Path(callbacks[0].best_model_path)
            module = NextIntervalModule.load_from_checkpoint(self._checkpoint, map_location="cpu")
        self._policy = CMODLBPolicy(
            module.net.float().cpu(),
            self.window,
            self.separation_per_host,
            self.n_init,
            seed,
            name=self.name,
            metrics=tuple(metrics[i] for i in dims),
        )
        return {
            key: float(value)
            for key, value in trainer.callback_metrics.items()
            if key in ("train/loss", "val/loss")
        }

    def policy(self) -> CMODLBPolicy:
        if self._policy is None:
            raise CMODLBNotFittedError(
                "cmodlb: call fit() before policy(); its predictor is learned"
            )
        return self._policy

    def artifacts(self) -> dict[str, Path]:
        return {"checkpoints": self._checkpoint} if self._checkpoint is not None else {}
