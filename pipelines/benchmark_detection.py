"""Detection benchmark: series detectors on labelled real (or synthetic) traces, side by side.

    python pipelines/benchmark_detection.py                    # PreGAN on SMD, synthetic without it
    python pipelines/benchmark_detection.py detector=tranad    # one detector
    python pipelines/benchmark_detection.py detectors=all      # every detector side by side
    python pipelines/benchmark_detection.py data.root=../shared/data/smd-validation ground=validation

For each entity (an SMD machine, a host of the original's traces, a generic CSV) every
detector is fitted on the train split (no labels), scores the test split and flags it with
its label-free threshold; the shared metrics (`pregan.evaluation.metrics`) are computed per
entity and averaged, with a 95 % bootstrap interval over entities. Each detector's
`metrics.json` (per entity and mean, the same keys for every detector) goes atomically into
`<run dir>/<detector>/`, and one MLflow run per detector is logged. With `report_dir` set,
the tables (JSON, CSV, Markdown) and one plot per entity (score, threshold and labelled
segments over time, a panel per detector) go to `<report_dir>/<ground>/`, and
`<report_dir>/summary.md` puts the validation and test grounds side by side.

Without data (the SMD root absent) the benchmark runs on a seeded synthetic multivariate
dataset (`pregan.data.synthetic_anomalies.synthetic_dataset`) and says so; with
`on_missing=skip` (the DVC stage) it writes nothing and exits cleanly, so that `dvc repro`
on a clone without `../shared` keeps the committed reports. Paths are anchored to the
project root (PROJECT_ROOT), wherever the command is run from. It ends by printing its table.

`f1_best` / `f1_pa_best` are a test-label ORACLE (the best static threshold on the test
labels): a ceiling, never the detector's result, which is `f1` from its label-free threshold.
`f1_pa` (point-adjusted) is shown only beside the random-score reference's.

`synthetic=true` replaces every case by its label-free tuning twin
(`pregan.data.synthetic_anomalies.synthetic_case`). `model=<name>` is accepted as an alias of
`detector=<name>`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(PROJECT_ROOT))  # conf/paths resolves against it

import hydra  # noqa: E402
import numpy as np  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from pregan.data.generic import LabelledSeries  # noqa: E402
from pregan.data.synthetic_anomalies import synthetic_case, synthetic_dataset  # noqa: E402
from pregan.evaluation.metrics import (  # noqa: E402
    affiliation,
    all_detection_metrics,
    best_threshold_f1,
    bootstrap_ci,
    diagnosis_metrics,
    event_diagnosis,
    finite_mean,
    pa_k_auc,
    pa_k_curve,
    vus,
)
from pregan.io import write_atomic, write_json_atomic, write_text_atomic  # noqa: E402
from pregan.tracking import flatten_params  # noqa: E402

METRIC_KEYS: tuple[str, ...] = (
    "precision",
    "recall",
    "f1",
    "f1_best",
    "vus_pr",
    "vus_roc",
    "roc_auc",
    "affiliation_precision",
    "affiliation_recall",
    "affiliation_f1",
    "f1_pak_auc",
    "f1_pa",
    "f1_pa_best",
    "hitrate@100",
    "hitrate@150",
    "ndcg@100",
    "ndcg@150",
    "hitrate_event@100",
    "hitrate_event@150",
    "ndcg_event@100",
    "ndcg_event@150",
    "flag_rate",
    "fit_s",
    "score_s",
)
"""Every detector's metrics.json carries these, per entity and as a mean (None = undefined)."""

TABLE_KEYS: tuple[str, ...] = (
    "f1",
    "f1_best",
    "vus_pr",
    "vus_roc",
    "affiliation_f1",
    "f1_pak_auc",
    "hitrate@100",
    "ndcg@100",
    "hitrate_event@100",
    "f1_pa",
)
"""The columns of the printed and Markdown tables (all of METRIC_KEYS are in the JSON/CSV)."""

ALL_DETECTORS: tuple[str, ...] = (
    "random",
    "percentile",
    "robust_z",
    "iforest",
    "pca",
    "usad",
    "tranad",
    "pregan",
)
"""`detectors=all`: the references first, PreGAN last (conf/detector/<name>.yaml)."""


def evaluate_case(
    case: LabelledSeries, detector_cfg: DictConfig, progress: bool = False
) -> tuple[dict[str, float | None], dict[str, np.ndarray]]:
    """Fit a fresh detector on the case's train split and score its test split.

    Returns (metrics, series) where series holds the scores (T,), thresholds (T,) and flags
    (T,) for the plot.
    """
    detector = hydra.utils.instantiate(detector_cfg)
    if hasattr(detector, "progress"):
        detector.progress = progress
    t0 = time.perf_counter()
    detector.fit(case.train)
    t1 = time.perf_counter()
    scores, flags, dim_scores = detector.score(case.test)
    t2 = time.perf_counter()
    out: dict[str, float | None] = dict.fromkeys(METRIC_KEYS)
    out.update({"flag_rate": float(np.mean(flags)), "fit_s": t1 - t0, "score_s": t2 - t1})
    losses = getattr(detector, "train_losses", None)  # learned detectors: last epoch's loss
    if losses:
        out["train_loss"] = float(losses[-1])
    if case.labels is not None:
        out.update(all_detection_metrics(case.labels, flags, scores))
        out.update(best_threshold_f1(case.labels, scores))  # test-label oracle: a ceiling
        out.update(vus(case.labels, scores))
        if case.labels.any():
            out.update(affiliation(case.labels, flags))
            out["f1_pak_auc"] = pa_k_auc(pa_k_curve(case.labels, flags))
    if case.root_cause is not None:
        out.update(diagnosis_metrics(dim_scores, case.root_cause))
        if case.labels is not None:
            out.update(event_diagnosis(dim_scores, case.root_cause, case.labels))
    thresholder = getattr(detector, "thresholder", None)
    thresholds = getattr(thresholder, "last_thresholds", None)
    series = {
        "scores": np.asarray(scores, dtype=np.float32),
        "thresholds": np.zeros(len(scores), np.float32)
        if thresholds is None
        else np.asarray(thresholds, dtype=np.float32),
        "flags": np.asarray(flags, dtype=bool),
    }
    return out, series


def summarise(per_case: dict[str, dict[str, float | None]]) -> dict[str, float | None]:
    """Mean over entities of each metric, skipping entities where it is absent."""
    return {k: finite_mean([m.get(k) for m in per_case.values()]) for k in METRIC_KEYS}


def intervals(per_case: dict[str, dict[str, float | None]], seed: int) -> dict[str, list | None]:
    """95 % bootstrap interval of the mean over entities, [low, high] per metric."""
    out: dict[str, list | None] = {}
    for k in METRIC_KEYS:
        _, lo, hi = bootstrap_ci([m.get(k) for m in per_case.values()], seed=seed)
        out[k] = None if lo is None else [lo, hi]
    return out


def _mlflow_key(key: str) -> str:
    return key.replace("@", "_at_")  # '@' is not allowed in MLflow metric names


def log_to_mlflow(
    cfg: DictConfig, name: str, detector_cfg: DictConfig, payload: dict[str, Any], path: Path
) -> None:
    """One MLflow run per detector: flattened params, mean and per-entity metrics, metrics.json."""
    import mlflow  # lazy: 2.5 s import

    uri = cfg.mlflow.tracking_uri
    try:
        mlflow.set_tracking_uri(uri)
        name_exp = cfg.mlflow.experiment_name
        if uri.startswith("sqlite:///") and mlflow.get_experiment_by_name(name_exp) is None:
            # artifacts beside the database, not in ./mlruns of wherever the command runs
            db = Path(uri.removeprefix("sqlite:///")).resolve()
            mlflow.create_experiment(name_exp, artifact_location=(db.parent / "mlruns").as_uri())
        mlflow.set_experiment(name_exp)
    except Exception as err:  # noqa: BLE001 - any store failure gets the same advice
        raise RuntimeError(
            f"MLflow store {uri!r} cannot be opened ({err}); set mlflow.tracking_uri=... or the "
            "MLFLOW_TRACKING_URI environment variable to a writable store, e.g. sqlite:///<dir>/mlflow.db"
        ) from err
    resolved = {
        "data": OmegaConf.to_container(cfg.data, resolve=True),
        "detector": OmegaConf.to_container(detector_cfg, resolve=True),
        "seed": cfg.seed,
        "threads": cfg.threads,
        "ground": payload["ground"],
        "synthetic": payload["synthetic"],
    }
    run_name = cfg.mlflow.run_name or f"{name}-{payload['ground']}"
    with mlflow.start_run(run_name=run_name):
        mlflow.log_params(flatten_params(resolved))
        metrics = {f"mean/{_mlflow_key(k)}": v for k, v in payload["mean"].items() if v is not None}
        for case, values in payload["per_case"].items():
            metrics.update(
                {f"{case}/{_mlflow_key(k)}": v for k, v in values.items() if v is not None}
            )
        metrics["wall_s"] = payload["wall_s"]
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(path))
        mlflow.log_text(OmegaConf.to_yaml(OmegaConf.create(resolved)), "config.yaml")


def detector_configs(cfg: DictConfig) -> dict[str, DictConfig]:
    """{name: detector config}: the `detector` group's choice, or each of `detectors`."""
    names = cfg.get("detectors")
    if names is None:  # the detector's own `name` (conf/detector/<name>.yaml uses the same)
        return {str(hydra.utils.get_class(cfg.detector._target_).name): cfg.detector}
    names = list(ALL_DETECTORS) if names == "all" else [str(n) for n in names]
    out = {}
    for name in names:
        path = PROJECT_ROOT / "conf" / "detector" / f"{name}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in path.parent.glob("*.yaml"))
            raise ValueError(f"detectors: no config {path} for {name!r}; known: {known}")
        # merged into the run's config so that ${seed} and ${thresholding.*} resolve
        merged = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
        merged.detector = OmegaConf.load(path)
        out[name] = merged.detector
    return out


def load_ground(cfg: DictConfig) -> tuple[list[LabelledSeries], str, bool]:
    """(cases, ground name, synthetic_data): the configured data, or the synthetic fallback.

    The fallback applies only when the data's root folder is absent (a fresh clone without
    `../shared`), never to a malformed dataset, whose loader error is raised as it is.
    """
    root = cfg.data.get("root")
    ground = str(cfg.ground)
    if root is not None and not Path(str(root)).exists():
        if cfg.on_missing == "skip":
            return [], ground, False
        if cfg.on_missing != "synthetic":
            raise FileNotFoundError(f"data.root {root}: folder not found (on_missing=error)")
        print(
            f"data.root {root} is absent: running on the seeded synthetic multivariate dataset "
            "instead (pregan.data.synthetic_anomalies.synthetic_dataset). For SMD, see the "
            "README's 'Detection on real server traces (SMD)'.",
            file=sys.stderr,
        )
        return synthetic_dataset(seed=int(cfg.seed)), "synthetic", True
    cases: list[LabelledSeries] = hydra.utils.instantiate(cfg.data.loader)
    if cfg.get("synthetic", False):
        regimes = int(cfg.synthetic_regimes)
        cases = [synthetic_case(c, int(cfg.seed) + i, regimes=regimes) for i, c in enumerate(cases)]
    return cases, ground, False


def run_benchmark(cfg: DictConfig, output_dir: Path) -> dict[str, Any]:
    """Every configured detector on every case; metrics.json per detector; MLflow; reports."""
    import torch

    torch.set_num_threads(int(cfg.threads))
    cases, ground, synthetic_data = load_ground(cfg)
    if not cases:
        print(
            f"data.root {cfg.data.root} is absent and on_missing=skip: nothing run, committed "
            "reports left as they are.",
            file=sys.stderr,
        )
        return {"ground": ground, "skipped": True, "detectors": {}}
    detectors = detector_configs(cfg)
    per: dict[str, dict[str, dict[str, float | None]]] = {n: {} for n in detectors}
    series: dict[str, dict[str, dict[str, np.ndarray]]] = {c.name: {} for c in cases}
    walls = dict.fromkeys(detectors, 0.0)
    progress = bool(cfg.progress)
    bar = tqdm(cases, desc=f"{ground}: entities", unit="entity", disable=not progress)
    for case in bar:
        for name, det_cfg in detectors.items():
            bar.set_postfix_str(f"{case.name} / {name}")
            start = time.perf_counter()
            per[name][case.name], series[case.name][name] = evaluate_case(case, det_cfg, progress)
            walls[name] += time.perf_counter() - start
    payloads: dict[str, Any] = {}
    for name, det_cfg in detectors.items():
        payload = {
            "detector": name,
            "ground": ground,
            "data": cfg.data.name,
            "labels_derived": any(c.labels_derived for c in cases),
            "synthetic": bool(cfg.get("synthetic", False)) or synthetic_data,
            "threads": int(cfg.threads),
            "per_case": per[name],
            "mean": summarise(per[name]),
            "ci95": intervals(per[name], int(cfg.seed)),
            "wall_s": walls[name],
        }
        path = output_dir / name / "metrics.json"
        write_json_atomic(path, payload)
        if cfg.mlflow.enabled:
            log_to_mlflow(cfg, name, det_cfg, payload, path)
        payloads[name] = payload
    result = {"ground": ground, "skipped": False, "detectors": payloads}
    if cfg.get("report_dir"):
        write_report(Path(str(cfg.report_dir)), result, cases, series)
    print(format_table(result))
    return result


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def format_table(result: dict[str, Any], keys: tuple[str, ...] = TABLE_KEYS) -> str:
    """Markdown table of mean ± 95 % CI half-width over entities, one row per detector.

    `f1_pa` (point-adjusted) is printed with the random-score reference's value in its header,
    the only way the project shows it (it inflates every detector, random scores included).
    """
    dets = result["detectors"]
    random_pa = dets.get("random", {}).get("mean", {}).get("f1_pa")
    heads = [f"f1_pa (random: {_fmt(random_pa)})" if k == "f1_pa" else k for k in keys]
    n_cases = len(next(iter(dets.values()))["per_case"]) if dets else 0
    lines = [
        f"Ground `{result['ground']}`: mean over {n_cases} entities ± half-width of the 95 % "
        "bootstrap interval; f1 = label-free threshold, f1_best = test-label oracle.",
        "",
        "| detector | " + " | ".join(heads) + " | wall s |",
        "|---" * (len(keys) + 2) + "|",
    ]
    for name, p in dets.items():
        cells = []
        for k in keys:
            mean, ci = p["mean"].get(k), p["ci95"].get(k)
            cell = _fmt(mean)
            if mean is not None and ci is not None:
                cell += f" ± {(ci[1] - ci[0]) / 2:.3f}"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {p['wall_s']:.0f} |")
    return "\n".join(lines)


def write_report(
    report_dir: Path,
    result: dict[str, Any],
    cases: list[LabelledSeries],
    series: dict[str, dict[str, dict[str, np.ndarray]]],
) -> None:
    """Tables (JSON, CSV, Markdown) and per-entity plots under `<report_dir>/<ground>/`."""
    import pandas as pd

    out = report_dir / result["ground"]
    dets = result["detectors"]
    write_json_atomic(out / "metrics.json", dets)
    rows = [
        {"detector": n, "entity": c, **m} for n, p in dets.items() for c, m in p["per_case"].items()
    ]
    per_case = pd.DataFrame(rows)
    write_text_atomic(out / "per_entity.csv", per_case.to_csv(index=False, float_format="%.6g"))
    summary = pd.DataFrame(
        [
            {
                "detector": n,
                **{k: p["mean"][k] for k in METRIC_KEYS},
                **{f"{k}_ci_low": (p["ci95"][k] or [None])[0] for k in METRIC_KEYS},
                **{f"{k}_ci_high": (p["ci95"][k] or [None, None])[1] for k in METRIC_KEYS},
                "wall_s": p["wall_s"],
            }
            for n, p in dets.items()
        ]
    )
    write_text_atomic(out / "summary.csv", summary.to_csv(index=False, float_format="%.6g"))
    write_json_atomic(
        out / "summary.json",
        {n: {"mean": p["mean"], "ci95": p["ci95"], "wall_s": p["wall_s"]} for n, p in dets.items()},
    )
    per_md = ["| entity | " + " | ".join(dets) + " |", "|---" * (len(dets) + 1) + "|"]
    for c in cases:
        cells = [
            f"{_fmt(dets[n]['per_case'][c.name]['f1'])} / "
            f"{_fmt(dets[n]['per_case'][c.name]['f1_best'])} / "
            f"{_fmt(dets[n]['per_case'][c.name]['vus_pr'])}"
            for n in dets
        ]
        per_md.append(f"| {c.name} | " + " | ".join(cells) + " |")
    text = (
        f"# Detection benchmark, ground `{result['ground']}`\n\n"
        "Generated by `pipelines/benchmark_detection.py`; do not edit.\n\n"
        f"{format_table(result)}\n\n"
        "## Per entity: f1 / f1_best / vus_pr\n\n" + "\n".join(per_md) + "\n"
    )
    write_text_atomic(out / "summary.md", text)
    for case in cases:
        plot_case(out / "plots" / f"{case.name}.png", case, series[case.name])
    write_side_by_side(report_dir)


def plot_case(path: Path, case: LabelledSeries, series: dict[str, dict[str, np.ndarray]]) -> None:
    """One panel per detector: score, threshold in force, flags, labelled segments shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pregan.data.generic import label_runs

    n = len(series)
    fig, axes = plt.subplots(n, 1, figsize=(12, 1.4 * n + 0.6), sharex=True, squeeze=False)
    runs = label_runs(case.labels) if case.labels is not None else np.zeros((0, 2), int)
    for ax, (name, s) in zip(axes[:, 0], series.items(), strict=True):
        t = np.arange(s["scores"].size)
        for a, b in runs:
            ax.axvspan(a, b, color="tab:red", alpha=0.2, lw=0)
        ax.plot(t, s["scores"], lw=0.5, color="tab:blue", label="score")
        ax.plot(t, s["thresholds"], lw=0.7, color="black", label="threshold")
        hi = np.quantile(s["scores"], 0.999) if s["scores"].size else 1.0
        ax.set_ylim(
            min(0.0, float(s["scores"].min())), max(float(hi), float(s["thresholds"].max())) * 1.1
        )
        flagged = np.flatnonzero(s["flags"])
        ax.plot(
            flagged, np.full(flagged.size, ax.get_ylim()[1] * 0.97), "|", color="tab:orange", ms=4
        )
        ax.text(0.005, 0.92, name, transform=ax.transAxes, va="top", fontweight="bold")
    axes[0, 0].set_title(
        f"{case.name}: score (blue), threshold (black), flags (orange), labelled segments (red)"
    )
    axes[-1, 0].set_xlabel("test row (minutes)")
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=70))
    plt.close(fig)


SIDE_KEYS: tuple[str, ...] = (
    "f1",
    "f1_best",
    "vus_pr",
    "affiliation_f1",
    "hitrate@100",
    "ndcg@100",
)


def write_side_by_side(report_dir: Path) -> None:
    """`<report_dir>/summary.md`: validation and test means side by side, plus the choices.

    The choices each validation figure decided are kept by hand in `<report_dir>/choices.md`
    (they are decisions, not outputs) and included verbatim.
    """
    import json

    grounds = {}
    for g in ("validation", "test", "synthetic"):
        path = report_dir / g / "summary.json"
        if path.is_file():
            grounds[g] = json.loads(path.read_text())
    if not grounds:
        return
    if "validation" in grounds or "test" in grounds:
        grounds.pop("synthetic", None)
    present = {n for s in grounds.values() for n in s}
    names = [n for n in ALL_DETECTORS if n in present] + sorted(present - set(ALL_DETECTORS))
    head = ["detector"] + [f"{k} ({g})" for k in SIDE_KEYS for g in grounds]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for n in names:
        cells = [
            _fmt(grounds[g].get(n, {}).get("mean", {}).get(k)) for k in SIDE_KEYS for g in grounds
        ]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    choices = report_dir / "choices.md"
    text = (
        "# Detection: validation and test side by side\n\n"
        "Generated by `pipelines/benchmark_detection.py` from `<ground>/summary.json`; means "
        "over the ground's machines (validation: SMD 2-2, 2-5, 3-2, 3-3; test: SMD 1-2 … 1-8).\n\n"
        + "\n".join(lines)
        + "\n"
        + (f"\n{choices.read_text()}" if choices.is_file() else "")
    )
    write_text_atomic(report_dir / "summary.md", text)


@hydra.main(version_base="1.3", config_path="../conf", config_name="benchmark_detection")
def main(cfg: DictConfig) -> float | None:
    result = run_benchmark(cfg, Path(HydraConfig.get().runtime.output_dir))
    if result["skipped"]:
        return None
    key = str(cfg.reported_metric).removeprefix("mean/")
    return next(iter(result["detectors"].values()))["mean"].get(key)


def alias_model_override(argv: list[str]) -> list[str]:
    """Rewrite `model=<name>` (the issue's spelling) to `detector=<name>`."""
    return [f"detector={a.split('=', 1)[1]}" if a.startswith("model=") else a for a in argv]


if __name__ == "__main__":
    sys.argv = [sys.argv[0], *alias_model_override(sys.argv[1:])]
    main()
