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
import optuna
from omegaconf import DictConfig, OmegaConf

from pregan.console import CountingPolicy, Progress, quiet_lightning, summary
from pregan.data.generate import ensure_traces
from pregan.evaluation.runner import EpisodeOutcome, run_recovery_episode, score_outcomes
from pregan.io import write_json_atomic, write_text_atomic
from pregan.models.interfaces import FitContext, Method
from pregan.simulation.config import ConfigError
from pregan.simulation.interfaces import QOS_COLUMNS
from pregan.tracking import MlflowRun, flatten_params

log = logging.getLogger(__name__)


def is_pruned(exc: BaseException | None) -> bool:
    """True if TrialPruned is anywhere in the chain (a method may wrap the callback's raise)."""
    while exc is not None:
        if isinstance(exc, optuna.TrialPruned):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


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


def _run_split(
    cfg: DictConfig, split: str, seeds: Any, scheduler: Any, policy: Any
) -> list[EpisodeOutcome]:
    """Run the recovery episodes of `seeds`, showing progress per interval (long on big clusters)."""
    seeds = [int(s) for s in seeds]
    progress = Progress(len(seeds) * int(cfg.simulation.n_intervals), f"{split} episodes")
    counted = CountingPolicy(policy, progress)
    try:
        return [run_recovery_episode(cfg, seed, scheduler, counted) for seed in seeds]
    finally:
        progress.close()


# metrics.json status -> MLflow run status (MLflow calls a run stopped on purpose KILLED).
MLFLOW_STATUS = {"FINISHED": "FINISHED", "FAILED": "FAILED", "PRUNED": "KILLED"}


def _resume_hint(cfg: DictConfig, out_dir: Path) -> str:
    """The command that resumes this run from its folder (checkpoints/*/last.ckpt)."""
    if cfg.get("optuna") is not None and cfg.optuna.get("trial") is not None:
        return "rerun the study's command (the study resumes; this trial is not retried)"
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("hydra.")]
    except ValueError:  # not under Hydra (tests, the Optuna driver's trials)
        overrides = []
    return " ".join(["python train.py", *overrides, f"hydra.run.dir={out_dir}"])


def run_experiment(cfg: DictConfig) -> dict[str, float]:
    """Run one method with one seed end to end; return every final metric by name."""
    import lightning as L
    import torch

    quiet_lightning()
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
        "backend": str((cfg.get("backend") or {}).get("name", "sim")),  # sim | testbed (live)
        "scheduler": str(cfg.scheduler.get("name", cfg.scheduler._target_.rsplit(".", 1)[-1])),
        **{f"tag_{i}": str(t) for i, t in enumerate(cfg.get("tags") or [])},
    }
    run = MlflowRun.from_config(cfg, tags)
    resolved = OmegaConf.to_yaml(cfg, resolve=True)
    (out_dir / "config_resolved.yaml").write_text(resolved)
    result: dict[str, Any] = {"method": method_name, "seed": int(cfg.seed), "status": "FAILED"}
    test_episodes = bool(cfg.evaluation.get("test_episodes", True))
    val_episodes = bool(cfg.evaluation.val_episodes)
    log.info("run folder %s; if interrupted, resume with: %s", out_dir, _resume_hint(cfg, out_dir))
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
            # Without episodes to run, only what the validation metrics need is trained
            # (an Optuna trial on val/f1: PreGAN's classifier, not its GAN).
            policy_needed=test_episodes or val_episodes,
        )
        metrics = dict(method.fit(ctx))
        if ctx.policy_needed:
            scheduler = hydra.utils.instantiate(cfg.scheduler)
            policy = method.policy()
        if val_episodes:
            val_outcomes = _run_split(cfg, "val", cfg.data.val_seeds, scheduler, policy)
            metrics.update({f"val/{k}": v for k, v in score_outcomes(val_outcomes).items()})
        if test_episodes:
            outcomes = _run_split(cfg, "test", test_episode_seeds(cfg), scheduler, policy)
            metrics.update({f"test/{k}": v for k, v in score_outcomes(outcomes).items()})
            series = out_dir / "qos_timeseries.csv"
            write_text_atomic(
                series, "\n".join(_qos_timeseries(method_name, int(cfg.seed), outcomes)) + "\n"
            )
            run.log_artifact(series)
        run.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        for folder, path in method.artifacts().items():
            run.log_artifact(path, folder)
        result.update(status="FINISHED", error=None, metrics=metrics)
        return metrics
    except BaseException as exc:  # Ctrl-C and kills too: the run folder says what happened
        if is_pruned(exc):  # Optuna stopped it on purpose: no failure, no traceback
            result.update(status="PRUNED", error=None, pruned=str(exc))
        elif isinstance(exc, KeyboardInterrupt | SystemExit):  # Lightning turns Ctrl-C into exit(1)
            result.update(error=f"interrupted ({type(exc).__name__})")
        else:
            result.update(error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        raise
    finally:
        write_json_atomic(out_dir / "metrics.json", result)
        run.log_artifact(out_dir / "metrics.json")
        run.end(MLFLOW_STATUS[result["status"]])
        log.info("run %s seed %s: %s -> %s", method_name, cfg.seed, result["status"], out_dir)
        if result["status"] == "FINISHED":
            log.info("\n%s", _summary(cfg, result["metrics"], run, out_dir))
        elif result["status"] == "FAILED":
            log.info("to resume from the last finished epoch: %s", _resume_hint(cfg, out_dir))


def _summary(cfg: DictConfig, metrics: dict[str, float], run: MlflowRun, out_dir: Path) -> str:
    """The closing table: headline metrics, then where everything went."""
    checkpoints = out_dir / "checkpoints"
    series = out_dir / "qos_timeseries.csv"
    return summary(
        f"{cfg.model.name} seed {cfg.seed}: FINISHED",
        metrics,
        {
            "metrics": out_dir / "metrics.json",
            "QoS per interval": series if series.is_file() else None,
            "checkpoints": checkpoints if checkpoints.is_dir() else None,
            "MLflow run": f"{run.run_id} ({run.tracking_uri})",
        },
    )


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
