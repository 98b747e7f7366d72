"""The types exchanged between the learned models, the methods and the entry points."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from pregan.simulation.interfaces import RecoveryPolicy


@dataclass
class ClassifierOutput:
    """PreGAN's fault detector/classifier verdict for one window of H hosts."""

    host_prob: np.ndarray  # (H,) probability that the host is faulty
    host_flags: np.ndarray  # (H,) bool, host_prob above the validation-chosen threshold
    embedding: np.ndarray  # (H, E) prototype-space embedding of each host
    fault_class: np.ndarray  # (H,) int class id 1..K of the nearest prototype, for every host
    dim_scores: np.ndarray  # (H, D) per-dimension contribution, for diagnosis ranking


@runtime_checkable
class SeriesDetector(Protocol):
    """A detector for one multivariate series (T, D), as used on real server traces (SMD).

    `fit` sees training data only; thresholds are chosen without test labels.
    """

    name: str

    def fit(self, train: np.ndarray) -> None:
        """Learn from a (T, D) float32 training series."""
        ...

    def score(self, series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (scores (T,), flags (T,) bool, dim_scores (T, D)) for a (T, D) series."""
        ...


@dataclass
class FitContext:
    """What a method's `fit` receives from `train.py`."""

    train_dir: Path  # episode folder of the training split (see pregan.data.episodes)
    val_dir: Path  # episode folder of the validation split
    output_dir: Path  # the Hydra run directory; checkpoints go under output_dir / "checkpoints"
    seed: int
    trainer_cfg: Any  # DictConfig of the Lightning Trainer (instantiate with overrides)
    loggers: list[Any]  # Lightning loggers (MLflow) to pass to every Trainer
    simulation_cfg: Any  # DictConfig used to build simulators (co-simulation, online phases)
    callbacks_cfg: Any = None  # DictConfig of Trainer callbacks (checkpoint, early stopping)
    policy_needed: bool = True  # False: no episodes follow; fit only what val metrics need


@runtime_checkable
class Method(Protocol):
    """A fault-tolerance method as `train.py` drives it: fit on traces, then act as a policy."""

    name: str

    def fit(self, ctx: FitContext) -> dict[str, float]:
        """Train whatever the method learns; return final training/validation metrics."""
        ...

    def policy(self) -> RecoveryPolicy:
        """The recovery policy to run on the test episodes."""
        ...

    def artifacts(self) -> dict[str, Path]:
        """Files worth logging (checkpoints, plots), by artifact sub-folder name."""
        ...
