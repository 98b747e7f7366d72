"""Optuna hyperparameter search over `train.py` runs, with optuna 5, pruning and resume.

    python -m pregan.tuning.search hparams_search=pregan_optuna [any train.py override]

Why not the Hydra Optuna sweeper plugin: it pins optuna<3 (which crashes on SQLite with
SQLAlchemy 2), cannot prune, and Hydra only loads sweepers from the `hydra_plugins` namespace.
This driver is itself a Hydra app on `conf/train.yaml`: it composes each trial's config with
`hydra.compose` (the command line's overrides + the sampled values) and calls the same
`run_experiment` as `train.py`. Scale-out uses existing engines only: any number of drivers
(local processes, `-m optuna.worker=0,1 hydra/launcher=joblib`, SLURM jobs) share one study
through its RDB storage URL; see docs/SCALING.md.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from pregan.experiment import is_pruned
from pregan.tracking import flatten_params
from pregan.tuning.best import format_best, log_best_to_mlflow, write_best_config
from pregan.tuning.space import SearchSpace, override_value, parse_search_space
from pregan.tuning.study import make_storage, open_study

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]  # src/tuning/search.py -> repository root
RunFn = Callable[[DictConfig], dict[str, float]]
ComposeFn = Callable[[list[str]], DictConfig]
OWN_KEYS = ("optuna.trial", "paths.output_dir", "logger.mlflow.run_name")  # set per trial


class SearchConfigError(ValueError):
    """The search settings are unusable; raised before any trial runs."""


class SearchAbortedError(RuntimeError):
    """More than `optuna.max_failure_rate` of this worker's trials failed."""


def suggest(trial: optuna.Trial, name: str, dist: BaseDistribution) -> Any:
    """Sample one parameter through the public `suggest_*` API of the trial."""
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    raise SearchConfigError(f"optuna.params.{name}: unsupported distribution {dist!r}")


@dataclass
class FailureGuard:
    """Optuna callback: stop this worker once too large a share of its trials failed."""

    max_rate: float
    finished: int = 0
    failed: int = 0
    last_error: str = ""

    @property
    def tripped(self) -> bool:
        return self.finished > 0 and self.failed / self.finished > self.max_rate

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.finished += 1
        if trial.state == TrialState.FAIL:
            self.failed += 1
            self.last_error = str(trial.user_attrs.get("error", "see the log above"))
        if self.tripped:
            study.stop()


def validate_search(cfg: DictConfig, space: SearchSpace) -> str:
    """Check the settings up front; return the metric to optimise."""
    metric = str(cfg.get("optimized_metric") or "")
    if not metric.startswith("val/"):
        raise SearchConfigError(
            f"optimized_metric must be a validation metric (val/...), got {metric!r}: "
            "tuning on test episodes would leak them into the model choice"
        )
    if cfg.optuna.direction not in ("maximize", "minimize"):
        raise SearchConfigError(
            f"optuna.direction must be maximize or minimize, got {cfg.optuna.direction!r}"
        )
    rate = float(cfg.optuna.max_failure_rate)
    if not 0.0 <= rate <= 1.0:
        raise SearchConfigError(f"optuna.max_failure_rate must be in [0, 1], got {rate}")
    for key in [*space.distributions, *space.fixed]:
        if OmegaConf.select(cfg, key, default="<absent>") == "<absent>":
            raise SearchConfigError(
                f"optuna.params.{key}: no such key in the training config (check conf/model/)"
            )
    return metric


def _sampler(sampler_cfg: DictConfig, worker: int) -> optuna.samplers.BaseSampler:
    """Instantiate the sampler; each parallel worker gets its own seed, or all would agree."""
    node = OmegaConf.to_container(sampler_cfg, resolve=True)
    assert isinstance(node, dict)
    if node.get("seed") is not None:
        node["seed"] = int(node["seed"]) + worker
    return instantiate(node)


def _trial_overrides(
    cfg: DictConfig,
    base: list[str],
    space: SearchSpace,
    params: dict[str, Any],
    number: int,
    out: Path,
) -> list[str]:
    own = [f"optuna.trial={number}", f"paths.output_dir={override_value(str(out))}"]
    if OmegaConf.select(cfg, "logger.mlflow.run_name") is not None:
        own.append(f"logger.mlflow.run_name={cfg.optuna.study_name}-trial{number}")
    kept = [o for o in base if o.lstrip("+~").split("=", 1)[0] not in OWN_KEYS]
    return [*kept, *space.trial_overrides(params), *own]


def run_search(
    cfg: DictConfig,
    base_overrides: list[str],
    compose: ComposeFn,
    run_fn: RunFn | None = None,
) -> optuna.Study:
    """Run (or resume) the study named in `cfg.optuna` until it holds `n_trials` finished trials.

    `base_overrides` are the command line's overrides, replayed for every trial; `compose`
    turns a trial's overrides into its config; `run_fn` trains and evaluates one config
    (default `pregan.experiment.run_experiment`) and returns its metrics.
    """
    if run_fn is None:
        from pregan.experiment import run_experiment as run_fn
    ocfg = cfg.optuna
    params = flatten_params(OmegaConf.to_container(ocfg.params, resolve=True))
    space = parse_search_space(params)
    metric = validate_search(cfg, space)
    worker = int(ocfg.get("worker") or 0)
    pruner_cfg = OmegaConf.to_container(ocfg.pruner, resolve=True)
    assert isinstance(pruner_cfg, dict)
    study = open_study(
        make_storage(str(ocfg.storage), ocfg.get("heartbeat_s")),
        str(ocfg.study_name),
        str(ocfg.direction),
        space.distributions,
        _sampler(ocfg.sampler, worker),
        pruner_cfg,
        instantiate(pruner_cfg),
    )
    out_root = Path(cfg.paths.output_dir)

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        sampled = {name: suggest(trial, name, d) for name, d in space.distributions.items()}
        out = out_root / f"trial_{trial.number:04d}"
        trial.set_user_attr("output_dir", str(out))
        try:
            metrics = run_fn(
                compose(_trial_overrides(cfg, base_overrides, space, sampled, trial.number, out))
            )
        except Exception as exc:
            if is_pruned(exc):
                raise optuna.TrialPruned(str(exc)) from exc
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:1000])
            raise
        if metric not in metrics:
            trial.set_user_attr("error", f"{metric} not among the run's metrics {sorted(metrics)}")
            raise SearchConfigError(trial.user_attrs["error"])
        return float(metrics[metric])

    finished = (TrialState.COMPLETE, TrialState.PRUNED)
    target = int(ocfg.n_trials)
    remaining = target - len(study.get_trials(deepcopy=False, states=finished))
    guard = FailureGuard(float(ocfg.max_failure_rate))
    if remaining > 0:
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=ocfg.get("timeout_s"),
            catch=(Exception,),
            callbacks=[optuna.study.MaxTrialsCallback(target, states=finished), guard],
        )
    if guard.tripped:
        raise SearchAbortedError(
            f"study '{study.study_name}': {guard.failed} of {guard.finished} trials of worker "
            f"{worker} failed (optuna.max_failure_rate={guard.max_rate}); last error: "
            f"{guard.last_error}"
        )
    if study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        _report_best(cfg, study, metric)
    return study


def _report_best(cfg: DictConfig, study: optuna.Study, metric: str) -> None:
    """Print the best trial, write its config file and log it to MLflow."""
    print(format_best(study, metric))
    path = write_best_config(study, metric, Path(cfg.optuna.best_config))
    print(
        f"Best config written to {path}; train with: python train.py +hparams_search/best={study.study_name}"
    )
    experiment = cfg.optuna.get("mlflow_experiment")
    if experiment:
        run_id = log_best_to_mlflow(
            study,
            metric,
            str(cfg.logger.mlflow.tracking_uri),
            str(experiment),
            path,
            {"storage": cfg.optuna.storage, "seed": cfg.seed},
            _artifact_uri(cfg),
        )
        log.info("best trial logged to MLflow experiment '%s', run %s", experiment, run_id)


def _artifact_uri(cfg: DictConfig) -> str | None:
    location = cfg.logger.mlflow.get("artifact_location")
    return None if location is None else Path(str(location)).resolve().as_uri()


def search_from_hydra(cfg: DictConfig) -> float:
    """Entry for a Hydra app on `train.yaml`: replay its overrides, return the best value."""
    hc = HydraConfig.get()
    config_name = str(hc.job.config_name)
    study = run_search(
        cfg,
        list(hc.overrides.task),
        lambda overrides: hydra.compose(config_name=config_name, overrides=overrides),
    )
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return float(study.best_value) if complete else math.nan


@hydra.main(version_base="1.3", config_path=str(REPO_ROOT / "conf"), config_name="train")
def main(cfg: DictConfig) -> float:
    if cfg.get("optuna") is None:
        raise SearchConfigError(
            "no Optuna settings in the config: add hparams_search=pregan_optuna (or another "
            "conf/hparams_search/ file)"
        )
    return search_from_hydra(cfg)


if __name__ == "__main__":
    os.environ.setdefault("PROJECT_ROOT", str(REPO_ROOT))
    main()
