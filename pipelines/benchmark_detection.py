"""DVC stage / CLI: run one series detector over every entity of a real-trace dataset.

    python pipelines/benchmark_detection.py data=smd data.root=<dir> detector=<name>

For each entity (an SMD machine, a host of the original's trace, a user's series) it fits
the detector on the train split, whose threshold is chosen without test labels, scores the
test split, and computes the shared metrics (`pregan.evaluation.metrics`). `metrics.json`
(per entity and mean, plus wall time) goes atomically into the Hydra run directory, and the
run is logged to MLflow (params, metrics, metrics.json and the resolved config).

`f1_best` / `f1_pa_best` are a test-label ORACLE (the best static threshold chosen on the
test labels): the ceiling of each score under one fixed threshold, and the figure much of the
literature reports. They are never the detector's result, which is `f1` / `f1_pa` from its
label-free threshold.

`synthetic=true` replaces every case by its label-free tuning twin
(`pregan.data.synthetic_anomalies.synthetic_case`): the detector trains on the first 80 % of
the case's train split and is scored on the last 20 % with injected anomalies and
`synthetic_regimes` benign, unlabelled regime changes. This is the ground on which thresholds, windows and risks
were tuned, so that no choice depends on test labels.

`model=<name>` is accepted as an alias of `detector=<name>`, because the issue names it so
while `conf/model/` holds train.py's recovery methods.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from pregan.data.generic import LabelledSeries
from pregan.data.synthetic_anomalies import synthetic_case
from pregan.evaluation.metrics import (
    all_detection_metrics,
    best_threshold_f1,
    diagnosis_metrics,
    finite_mean,
)
from pregan.io import write_json_atomic
from pregan.tracking import flatten_params

METRIC_KEYS: tuple[str, ...] = (
    "precision",
    "recall",
    "f1",
    "f1_pa",
    "roc_auc",
    "f1_best",
    "f1_pa_best",
    "hitrate@100",
    "hitrate@150",
    "ndcg@100",
    "ndcg@150",
    "flag_rate",
    "fit_s",
    "score_s",
)


def evaluate_case(case: LabelledSeries, detector_cfg: DictConfig) -> dict[str, float | None]:
    """Fit a fresh detector on the case's train split, score its test split, return metrics."""
    detector = hydra.utils.instantiate(detector_cfg)
    t0 = time.perf_counter()
    detector.fit(case.train)
    t1 = time.perf_counter()
    scores, flags, dim_scores = detector.score(case.test)
    t2 = time.perf_counter()
    out: dict[str, float | None] = {
        "flag_rate": float(np.mean(flags)),
        "fit_s": t1 - t0,
        "score_s": t2 - t1,
    }
    losses = getattr(detector, "train_losses", None)  # learned detectors: last epoch's loss
    if losses:
        out["train_loss"] = float(losses[-1])
    if case.labels is not None:
        out.update(all_detection_metrics(case.labels, flags, scores))
        out.update(best_threshold_f1(case.labels, scores))  # test-label oracle: a ceiling
    if case.root_cause is not None:
        out.update(diagnosis_metrics(dim_scores, case.root_cause))
    return out


def summarise(per_case: dict[str, dict[str, float | None]]) -> dict[str, float | None]:
    """Mean over entities of each metric, skipping entities where it is absent."""
    return {k: finite_mean([m.get(k) for m in per_case.values()]) for k in METRIC_KEYS}


def _mlflow_key(key: str) -> str:
    return key.replace("@", "_at_")  # '@' is not allowed in MLflow metric names


def log_to_mlflow(cfg: DictConfig, payload: dict[str, Any], metrics_path: Path) -> None:
    """One MLflow run: flattened params, mean and per-entity metrics, metrics.json, config."""
    import mlflow  # lazy: 2.5 s import

    uri = cfg.mlflow.tracking_uri
    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(cfg.mlflow.experiment_name)
    except Exception as err:  # noqa: BLE001 - any store failure gets the same advice
        raise RuntimeError(
            f"MLflow store {uri!r} cannot be opened ({err}); set mlflow.tracking_uri=... or the "
            "MLFLOW_TRACKING_URI environment variable to a writable store, e.g. sqlite:///<dir>/mlflow.db"
        ) from err
    # Only the sections that define the result: `paths` needs a running Hydra app to resolve.
    resolved = {
        k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
        for k in ("data", "detector", "seed", "threads")
    }
    resolved["synthetic"] = bool(cfg.get("synthetic", False))
    with mlflow.start_run(run_name=cfg.mlflow.run_name):
        mlflow.log_params(flatten_params(resolved))
        metrics = {f"mean/{_mlflow_key(k)}": v for k, v in payload["mean"].items() if v is not None}
        for case, values in payload["per_case"].items():
            metrics.update(
                {f"{case}/{_mlflow_key(k)}": v for k, v in values.items() if v is not None}
            )
        metrics["wall_s"] = payload["wall_s"]
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(metrics_path))
        mlflow.log_text(OmegaConf.to_yaml(OmegaConf.create(resolved)), "config.yaml")


def run_benchmark(cfg: DictConfig, output_dir: Path) -> dict[str, Any]:
    """Evaluate the configured detector on every case; write metrics.json; log to MLflow."""
    import torch

    torch.set_num_threads(int(cfg.threads))
    start = time.perf_counter()
    cases: list[LabelledSeries] = hydra.utils.instantiate(cfg.data.loader)
    if cfg.get("synthetic", False):
        regimes = int(cfg.synthetic_regimes)
        cases = [synthetic_case(c, int(cfg.seed) + i, regimes=regimes) for i, c in enumerate(cases)]
    per_case = {case.name: evaluate_case(case, cfg.detector) for case in cases}
    payload: dict[str, Any] = {
        "detector": HydraConfig.get().runtime.choices.get("detector")
        if HydraConfig.initialized()
        else None,
        "data": cfg.data.name,
        "labels_derived": any(c.labels_derived for c in cases),
        "synthetic": bool(cfg.get("synthetic", False)),
        "per_case": per_case,
        "mean": summarise(per_case),
        "wall_s": time.perf_counter() - start,
    }
    metrics_path = output_dir / "metrics.json"
    write_json_atomic(metrics_path, payload)
    log_to_mlflow(cfg, payload, metrics_path)
    return payload


@hydra.main(version_base="1.3", config_path="../conf", config_name="benchmark_detection")
def main(cfg: DictConfig) -> float | None:
    payload = run_benchmark(cfg, Path(HydraConfig.get().runtime.output_dir))
    key = str(cfg.reported_metric).removeprefix("mean/")
    return payload["mean"].get(key)


def alias_model_override(argv: list[str]) -> list[str]:
    """Rewrite `model=<name>` (the issue's spelling) to `detector=<name>`."""
    return [f"detector={a.split('=', 1)[1]}" if a.startswith("model=") else a for a in argv]


if __name__ == "__main__":
    sys.argv = [sys.argv[0], *alias_model_override(sys.argv[1:])]
    main()
