"""MLflow tracking for one run: the Lightning logger and our own calls share one MLflow run.

The store is SQLite by default (`sqlite:///<repo>/mlflow.db`); a tracking server is a config
override (`logger.mlflow.tracking_uri=http://host:5000`), never a code change.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

MAX_PARAM_LENGTH = 500  # MLflow rejects longer parameter values; the full config is an artifact


class TrackingError(RuntimeError):
    """The MLflow store cannot be used; the message names the URI and how to change it."""


def flatten_params(tree: Any, prefix: str = "") -> dict[str, str]:
    """Flatten a nested config into dotted keys with values truncated to MLflow's limit."""
    flat: dict[str, str] = {}
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            flat.update(flatten_params(value, f"{prefix}{key}."))
        return flat
    value = str(tree)
    flat[prefix.rstrip(".")] = value[:MAX_PARAM_LENGTH]
    return flat


def _open_run_logger(**kwargs: Any) -> Any:
    """An MLFlowLogger that leaves the run open when a Trainer finishes.

    Lightning's logger marks the run FINISHED at the end of every `Trainer.fit`, so a run read
    FINISHED while its GAN was still training or its test episodes running. A run of ours
    holds several fits and the episodes after them: `MlflowRun.end` alone closes it.
    """
    from lightning.pytorch.loggers import MLFlowLogger

    class OpenRunLogger(MLFlowLogger):
        def finalize(self, status: str = "success") -> None:
            """Keep the run RUNNING; MlflowRun.end sets FINISHED, FAILED or KILLED."""

    return OpenRunLogger(**kwargs)


class MlflowRun:
    """One MLflow run, created eagerly so a broken store fails before any training."""

    def __init__(
        self,
        tracking_uri: str,
        experiment_name: str,
        run_name: str,
        tags: dict[str, str],
        artifact_location: str | None = None,
    ):
        self.tracking_uri = tracking_uri
        try:
            self._logger = _open_run_logger(
                experiment_name=experiment_name,
                run_name=run_name,
                tracking_uri=tracking_uri,
                tags=tags,
                log_model=False,
                artifact_location=artifact_location,
            )
            self.run_id = self._logger.run_id  # creates the run now
        except Exception as exc:
            raise TrackingError(
                f"cannot write to the MLflow store '{tracking_uri}' ({type(exc).__name__}: {exc}). "
                "Set another store with logger.mlflow.tracking_uri=sqlite:///path/to/mlflow.db "
                "or the MLFLOW_TRACKING_URI environment variable."
            ) from exc
        self.client = self._logger.experiment

    @classmethod
    def from_config(cls, cfg: DictConfig, tags: dict[str, str]) -> MlflowRun:
        mcfg = cfg.logger.mlflow
        location = mcfg.get("artifact_location")
        return cls(
            str(mcfg.tracking_uri),
            str(mcfg.experiment_name),
            str(mcfg.run_name),
            tags,
            None if location is None else Path(str(location)).resolve().as_uri(),
        )

    def lightning_logger(self) -> Any:
        """The MLFlowLogger to hand to every Lightning Trainer of this run."""
        return self._logger

    def log_params(self, params: dict[str, str]) -> None:
        self._logger.log_hyperparams(params)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.client.log_metric(self.run_id, key, float(value), step=step or 0)

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        """Log a file, or a folder's contents, under `folder` (not `folder/<its name>`)."""
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), folder)
        elif path.exists():
            self.client.log_artifact(self.run_id, str(path), folder)

    def status(self) -> str:
        """The run's status in the store (RUNNING until `end`)."""
        return str(self.client.get_run(self.run_id).info.status)

    def end(self, status: str) -> None:
        """Close the run: FINISHED, FAILED, or KILLED (MLflow's name for a pruned trial)."""
        self.client.set_terminated(self.run_id, status)
