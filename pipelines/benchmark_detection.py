"""DVC stage / CLI: run one series detector over every entity of a real-trace dataset.

    python pipelines/benchmark_detection.py data=smd data.root=<dir> detector=<name>

For each entity (an SMD machine, a host of the original's trace, a user's series) it fits
the detector on the train split, whose threshold is chosen without test labels, scores the
test split, and computes the shared metrics (`pregan.evaluation.metrics`). `metrics.json`
(per entity and mean, plus wall time) goes atomically into the Hydra run directory, and the
run is logged to MLflow (params, metrics, metrics.json and the resolved config).

`synthetic=true` replaces every case by its label-free tuning twin (`synthetic_case`): the
detector trains on the first 80 % of the case's train split and is scored on the last 20 %
with injected anomalies and `SYNTHETIC_REGIMES` benign, unlabelled regime changes
(`+synthetic_regimes=0` drops them). This is the ground on which thresholds, windows and risks
were tuned, so that no choice depends on test labels.

`model=<name>` is accepted as an alias of `detector=<name>`, because the issue names it so
while `conf/model/` holds train.py's recovery methods.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from pregan.data.generic import LabelledSeries
from pregan.evaluation.metrics import all_detection_metrics, diagnosis_metrics, finite_mean

METRIC_KEYS: tuple[str, ...] = (
    "precision",
    "recall",
    "f1",
    "f1_pa",
    "roc_auc",
    "hitrate@100",
    "hitrate@150",
    "ndcg@100",
    "ndcg@150",
    "flag_rate",
    "fit_s",
    "score_s",
)


SYNTHETIC_REGIMES = 2
"""Benign regime changes per twin (`inject_regime_changes`); `+synthetic_regimes=0` drops them."""

ANOMALY_KINDS: tuple[str, ...] = ("level_shift", "spikes", "variance_burst")


def inject_anomalies(
    series: np.ndarray,
    rng: np.random.Generator,
    length: tuple[int, int] = (3, 1500),
    gap: tuple[int, int] = (200, 1500),
    max_dims: int = 8,
    magnitude: tuple[float, float] = (1.0, 8.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copy of `series` (T, D) with labelled synthetic anomalies: (series, labels, root cause).

    Segments of log-uniform length in `length` rows (minutes to a day of 1-minute data: SMD's
    labelled incidents run from a few rows to over a thousand, and a twin whose incidents
    stop at 300 rows cannot judge an alarm budget against long ones), separated by `gap` normal rows, each on 1..`max_dims` random
    dimensions, of one kind from ANOMALY_KINDS, sized log-uniformly in `magnitude` standard
    deviations of the dimension (floored at 0.01, SMD's scale is [0, 1]): a shift of the level,
    spikes on a fifth of the rows, or extra Gaussian noise.
    """
    x = np.array(series, dtype=np.float32, copy=True)
    t_len, d = x.shape
    sd = np.maximum(x.std(axis=0), 1e-2)  # (D,)
    labels = np.zeros(t_len, dtype=bool)
    cause = np.zeros((t_len, d), dtype=bool)
    t = int(rng.integers(*gap)) // 4
    while True:
        n = int(np.exp(rng.uniform(np.log(length[0]), np.log(length[1]))))
        if t + n >= t_len:
            break
        dims = rng.choice(d, int(rng.integers(1, min(max_dims, d) + 1)), replace=False)
        size = np.exp(rng.uniform(*np.log(magnitude))) * sd[dims]  # (m,)
        sign = rng.choice([-1.0, 1.0], dims.size)  # (m,)
        kind = ANOMALY_KINDS[int(rng.integers(len(ANOMALY_KINDS)))]
        rows = np.arange(t, t + n)
        if kind == "level_shift":
            x[np.ix_(rows, dims)] += sign * size
        elif kind == "spikes":
            hit = rng.choice(rows, max(1, n // 5), replace=False)
            x[np.ix_(hit, dims)] += sign * 2 * size
        else:
            x[np.ix_(rows, dims)] += rng.normal(0.0, 1.0, (n, dims.size)) * size
        labels[rows] = True
        cause[np.ix_(rows, dims)] = True
        t += n + int(rng.integers(*gap))
    return x, labels, cause


def inject_regime_changes(
    series: np.ndarray,
    rng: np.random.Generator,
    count: int = 1,
    max_dims: int = 8,
    magnitude: tuple[float, float] = (1.0, 4.0),
) -> np.ndarray:
    """Copy of `series` (T, D) with `count` benign, UNLABELLED regime changes.

    Real streams change regime without any fault: SMD's test splits move level and noise
    away from train (e.g. one dimension of machine-1-5 quadruples its spread for the last
    half of test, unlabelled). Each change starts at a uniform random row after the first
    tenth and lasts to the end, on 1..`max_dims` random dims: a persistent level shift or an
    added Gaussian noise, of log-uniform size in `magnitude` standard deviations (floored at
    0.01). A detector tuned on twins without them would be rewarded for firing for ever.
    """
    x = np.array(series, dtype=np.float32, copy=True)
    t_len, d = x.shape
    sd = np.maximum(x.std(axis=0), 1e-2)  # (D,)
    for _ in range(count):
        start = int(rng.integers(t_len // 10, t_len))
        dims = rng.choice(d, int(rng.integers(1, min(max_dims, d) + 1)), replace=False)
        size = np.exp(rng.uniform(*np.log(magnitude))) * sd[dims]  # (m,)
        if rng.random() < 0.5:
            x[start:, dims] += rng.choice([-1.0, 1.0], dims.size) * size
        else:
            x[start:, dims] += rng.normal(0.0, 1.0, (t_len - start, dims.size)) * size
    return x


def synthetic_case(
    case: LabelledSeries, seed: int, fraction: float = 0.2, regimes: int = 0
) -> LabelledSeries:
    """The case's label-free tuning twin: train on the head of train, test on its injected tail.

    `regimes` benign regime changes (`inject_regime_changes`, unlabelled) are added after the
    anomalies, from their own random stream, so the anomalies do not depend on `regimes`.
    """
    cut = int(round(case.train.shape[0] * (1 - fraction)))
    test, labels, cause = inject_anomalies(case.train[cut:], np.random.default_rng(seed))
    if regimes:
        test = inject_regime_changes(test, np.random.default_rng([seed, 1]), regimes)
    return LabelledSeries(
        name=f"{case.name}-synthetic",
        train=case.train[:cut],
        test=test,
        labels=labels,
        root_cause=cause,
        dim_names=case.dim_names,
        labels_derived=True,
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
    if case.root_cause is not None:
        out.update(diagnosis_metrics(dim_scores, case.root_cause))
    return out


def summarise(per_case: dict[str, dict[str, float | None]]) -> dict[str, float | None]:
    """Mean over entities of each metric, skipping entities where it is absent."""
    return {k: finite_mean([m.get(k) for m in per_case.values()]) for k in METRIC_KEYS}


def write_json_atomic(payload: dict[str, Any], path: Path) -> None:
    """Write JSON through a temp file in the same folder, then rename: never a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _flatten(cfg: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:500]  # MLflow caps parameter values
    return flat


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
        mlflow.log_params(_flatten(resolved))
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
        regimes = int(cfg.get("synthetic_regimes", SYNTHETIC_REGIMES))
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
    write_json_atomic(payload, metrics_path)
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
