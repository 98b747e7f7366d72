"""One run of the study: traces -> fit a method -> recovery test episodes -> MLflow + metrics.json.

`train.py` is a thin Hydra entry around `run_experiment`, so sweepers, the Optuna driver,
the DVC stages and the tests all call the same function.
"""

from __future__ import annotations

import logging
import subprocess
import traceback
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from pregan.data.generate import ensure_traces
from pregan.evaluation.runner import EpisodeOutcome, run_recovery_episode, score_outcomes
from pregan.io import write_json_atomic
from pregan.models.interfaces import FitContext, Method
from pregan.simulation.config import ConfigError
from pregan.simulation.interfaces import QOS_COLUMNS
from pregan.tracking import MlflowRun, flatten_params

log = logging.getLogger(__name__)


def validate_config(cfg: DictConfig) -> None:
    """Fail at start-up, naming the field, rather than three stages later."""
    from pregan.simulation.simulator import Simulator

    for key in ("seed", "model", "simulation", "workload", "faults", "scheduler", "data"):
        if key not in cfg:
            raise ConfigError(f"config: missing top-level field '{key}'")
    if not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise ConfigError(f"config: seed must be a non-negative integer, got {cfg.seed!r}")
    threads = cfg.get("threads", 1)
    if not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"config: threads must be a positive integer, got {threads!r}")
    splits = {s: set(cfg.data[f"{s}_seeds"]) for s in ("train", "val")}
    splits["test"] = set(test_episode_seeds(cfg))
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        if overlap := splits[a] & splits[b]:
            raise ConfigError(f"data.{a}_seeds and data.{b}_seeds overlap: {sorted(overlap)}")
    for s, seeds in splits.items():
        if not seeds:
            raise ConfigError(f"data.{s}_seeds is empty")
    Simulator.from_config(cfg, seed=int(cfg.data.test_seeds[0]))  # validates sim/faults/workload


def test_episode_seeds(cfg: DictConfig) -> list[int]:
    """The live recovery episodes of this run: data.test_seeds shifted by the run's seed.

    Every method run with seed k meets the same workloads and fault schedules, while each
    seed brings its own episodes, so the spread over seeds covers workload variation too.
    """
    stride = int(cfg.data.get("test_seed_stride", 0))
    return [int(s) + stride * int(cfg.seed) for s in cfg.data.test_seeds]


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _qos_timeseries(method: str, seed: int, outcomes: list[EpisodeOutcome]) -> list[str]:
    """CSV lines (interval, method, seed, episode, QOS_COLUMNS...) for the QoS-over-time plots."""
    lines = [",".join(("interval", "method", "seed", "episode", *QOS_COLUMNS))]
    for o in outcomes:
        for t, row in enumerate(o.qos):
            values = ",".join(f"{v:.6g}" for v in row)
            lines.append(f"{t},{method},{seed},{o.seed},{values}")
    return lines


def _run_split(cfg: DictConfig, seeds: Any, scheduler: Any, policy: Any) -> list[EpisodeOutcome]:
    return [run_recovery_episode(cfg, int(seed), scheduler, policy) for seed in seeds]


def run_experiment(cfg: DictConfig) -> dict[str, float]:
    """Run one method with one seed end to end; return every final metric by name."""
    import lightning as L
    import torch

    validate_config(cfg)
    torch.set_num_threads(int(cfg.get("threads", 1)))
    L.seed_everything(cfg.seed, workers=True)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    method_name = str(cfg.model.name)
    tags = {
        "method": method_name,
        "seed": str(cfg.seed),
        "git_commit": _git_commit(),
        "dataset": f"sim-{cfg.simulation.n_hosts}h-{cfg.workload.kind}",
        "scheduler": str(cfg.scheduler.get("name", cfg.scheduler._target_.rsplit(".", 1)[-1])),
        **{f"tag_{i}": str(t) for i, t in enumerate(cfg.get("tags") or [])},
    }
    run = MlflowRun.from_config(cfg, tags)
    resolved = OmegaConf.to_yaml(cfg, resolve=True)
    (out_dir / "config_resolved.yaml").write_text(resolved)
    result: dict[str, Any] = {"method": method_name, "seed": int(cfg.seed), "status": "FAILED"}
    try:
        run.log_params(flatten_params(OmegaConf.to_container(cfg, resolve=True)))
        run.log_artifact(out_dir / "config_resolved.yaml")
        splits = ensure_traces(cfg, out_dir)
        method: Method = hydra.utils.instantiate(cfg.model, _recursive_=False)
        ctx = FitContext(
            train_dir=splits["train"],
            val_dir=splits["val"],
            output_dir=out_dir,
            seed=int(cfg.seed),
            trainer_cfg=cfg.trainer,
            loggers=[run.lightning_logger()],
            simulation_cfg=cfg,
            callbacks_cfg=cfg.get("callbacks"),
        )
        fit_metrics = method.fit(ctx)
        scheduler = hydra.utils.instantiate(cfg.scheduler)
        policy = method.policy()
        metrics = dict(fit_metrics)
        if cfg.evaluation.val_episodes:
            val_outcomes = _run_split(cfg, cfg.data.val_seeds, scheduler, policy)
            metrics.update({f"val/{k}": v for k, v in score_outcomes(val_outcomes).items()})
        outcomes = _run_split(cfg, test_episode_seeds(cfg), scheduler, policy)
        metrics.update({f"test/{k}": v for k, v in score_outcomes(outcomes).items()})
        run.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        series = out_dir / "qos_timeseries.csv"
        series.write_text("\n".join(_qos_timeseries(method_name, int(cfg.seed), outcomes)) + "\n")
        run.log_artifact(series)
        for folder, path in method.artifacts().items():
            run.log_artifact(path, folder)
        result.update(status="FINISHED", error=None, metrics=metrics)
        return metrics
    except Exception as exc:
        result.update(error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        raise
    finally:
        write_json_atomic(out_dir / "metrics.json", result)
        run.log_artifact(out_dir / "metrics.json")
        run.end(result["status"])
        log.info("run %s seed %s: %s -> %s", method_name, cfg.seed, result["status"], out_dir)


def optimized_value(cfg: DictConfig, metrics: dict[str, float]) -> float | None:
    """The metric a sweeper optimises; a missing name is a config error, not a silent NaN."""
    name = cfg.get("optimized_metric")
    if name is None:
        return None
    if name not in metrics:
        raise ConfigError(
            f"optimized_metric '{name}' not among the run's metrics: {sorted(metrics)}"
        )
    return float(metrics[name])
