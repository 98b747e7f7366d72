"""What a finished search leaves behind: the best parameters printed, in MLflow, and as a config.

The config file is a Hydra `@package _global_` file of the `hparams_search/best` group, so
`python train.py +hparams_search/best=<study_name>` trains with the tuned values.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import optuna
from omegaconf import OmegaConf

from pregan.io import write_text_atomic
from pregan.tracking import TrackingError, flatten_params


def best_config_yaml(study: optuna.Study, metric: str) -> str:
    """The best trial's parameters as a nested Hydra config with a provenance header."""
    best = study.best_trial
    tree = OmegaConf.create({})
    for key, value in best.params.items():
        OmegaConf.update(tree, key, value, force_add=True)
    header = [
        "# @package _global_",
        f"# Best trial of Optuna study '{study.study_name}': trial {best.number}, "
        f"{metric}={best.value:.6g}",
        f"# Written {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')} by pregan.tuning.search.",
        f"# Use: python train.py +hparams_search/best={study.study_name}",
    ]
    return "\n".join(header) + "\n" + OmegaConf.to_yaml(tree)


def write_best_config(study: optuna.Study, metric: str, path: Path) -> Path:
    write_text_atomic(path, best_config_yaml(study, metric))
    return path


def format_best(study: optuna.Study, metric: str) -> str:
    best = study.best_trial
    lines = [f"Best trial {best.number} of study '{study.study_name}': {metric}={best.value:.6g}"]
    lines += [f"  {key} = {value!r}" for key, value in best.params.items()]
    return "\n".join(lines)


def log_best_to_mlflow(
    study: optuna.Study,
    metric: str,
    tracking_uri: str,
    experiment_name: str,
    config_path: Path,
    tags: dict[str, Any],
    artifact_location: str | None = None,
) -> str:
    """Log one run holding the best parameters and value; return its run id."""
    from mlflow import MlflowClient

    best = study.best_trial
    try:
        client = MlflowClient(tracking_uri)
        experiment = client.get_experiment_by_name(experiment_name)
        experiment_id = (
            experiment.experiment_id
            if experiment
            else client.create_experiment(experiment_name, artifact_location=artifact_location)
        )
        run = client.create_run(
            experiment_id,
            run_name=f"{study.study_name}-best",
            tags={
                "kind": "optuna_best",
                "study": study.study_name,
                "trial": str(best.number),
                **{k: str(v) for k, v in tags.items()},
            },
        )
    except Exception as exc:
        raise TrackingError(
            f"cannot write to the MLflow store '{tracking_uri}' ({type(exc).__name__}: {exc})"
        ) from exc
    run_id = run.info.run_id
    for key, value in flatten_params(best.params).items():
        client.log_param(run_id, key, value)
    client.log_metric(run_id, metric, float(best.value))
    client.log_metric(run_id, "n_trials", float(len(study.trials)))
    client.log_artifact(run_id, str(config_path))
    client.set_terminated(run_id, "FINISHED")
    return run_id
