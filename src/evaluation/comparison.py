"""Collect comparison runs and summarise them per method: mean and 95 % CI over seeds.

Runs come from Hydra run directories (every `metrics.json` below a folder) or from an MLflow
experiment (runs tagged `method` and `seed`); a (method, seed) found twice keeps a finished
run over a failed one, then the MLflow one. Every metric is summarised per method as mean ±
95 % confidence half-width over seeds (Student t, n - 1 degrees of freedom); the direction
of each metric and its best method are stated. The oracle is a bound (it sees the injected
faults), so it is shown but not eligible as "best". Used by `pipelines/report.py`,
`pipelines/evaluate.py` and `notebooks/compare_methods.ipynb`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

METHOD_ORDER: tuple[str, ...] = (
    "pregan",
    "pregan_online",
    "planner",
    "evacuate",
    "threshold",
    "ppo",
    "pcft",
    "dftm",
    "eclb",
    "cmodlb",
    "none",
    "oracle",
)

METRIC_GROUPS: dict[str, dict[str, str]] = {
    "Quality of service": {
        "test/energy_kj": "lower",
        "test/mean_response_s": "lower",
        "test/sla_violation_rate": "lower",
        "test/overdue_unfinished": "lower",
        "test/late_completion_rate": "lower",
        "test/migrations": "lower",
        "test/mean_migration_s": "lower",
        "test/mean_wait_intervals": "lower",
        "test/decision_ms": "lower",
        "test/peak_memory_mb": "lower",
        "test/completed": "higher",
        "test/migrations_per_fault": "lower",
    },
    "Detection": {
        "test/accuracy": "higher",
        "test/precision": "higher",
        "test/recall": "higher",
        "test/f1": "higher",
        "test/f1_pa": "higher",
        "test/roc_auc": "higher",
    },
    "Diagnosis and classification": {
        "test/hitrate_100": "higher",
        "test/hitrate_150": "higher",
        "test/ndcg_100": "higher",
        "test/ndcg_150": "higher",
        "test/grid_hitrate_100": "higher",
        "test/grid_hitrate_150": "higher",
        "test/grid_ndcg_100": "higher",
        "test/grid_ndcg_150": "higher",
        "test/class_accuracy": "higher",
    },
}
"""Known metrics, in report order, with the direction in which they are better."""

DIRECTIONS: dict[str, str] = {m: d for group in METRIC_GROUPS.values() for m, d in group.items()}
STATUSES = ("FINISHED", "FAILED")


class ReportInputError(ValueError):
    """A run source is missing or malformed; the message names the file or run and field."""


@dataclass(frozen=True)
class RunResult:
    """One (method, seed) run's outcome as the report needs it."""

    method: str
    seed: int
    status: str  # FINISHED, or why it did not finish (FAILED, KILLED, RUNNING)
    error: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    source: str = ""

    @property
    def finished(self) -> bool:
        return self.status == "FINISHED"


# ----------------------------------------------------------------------------- sources


def _parse_metrics_json(path: Path) -> RunResult:
    """Validate one run directory's metrics.json."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ReportInputError(f"{path}: not readable JSON ({err})") from err
    if not isinstance(raw, dict):
        raise ReportInputError(f"{path}: top level must be an object, got {type(raw).__name__}")
    for key, kind in (("method", str), ("seed", int), ("status", str)):
        if not isinstance(raw.get(key), kind) or isinstance(raw.get(key), bool):
            raise ReportInputError(
                f"{path}: field '{key}' must be {kind.__name__}, got {raw.get(key)!r}"
            )
    if raw["status"] not in STATUSES:
        raise ReportInputError(
            f"{path}: field 'status' must be one of {STATUSES}, got {raw['status']!r}"
        )
    error = raw.get("error")
    if error is not None and not isinstance(error, str):
        raise ReportInputError(f"{path}: field 'error' must be a string or null, got {error!r}")
    metrics = raw.get("metrics", {})
    if not isinstance(metrics, dict):
        raise ReportInputError(f"{path}: field 'metrics' must be an object, got {metrics!r}")
    values: dict[str, float] = {}
    for name, value in metrics.items():
        if value is None:
            continue  # absent
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ReportInputError(f"{path}: metric '{name}' must be a number, got {value!r}")
        values[name] = float(value)
    return RunResult(raw["method"], raw["seed"], raw["status"], error, values, str(path))


def load_run_dirs(root: Path) -> list[RunResult]:
    """Every run below `root` that wrote a metrics.json (Hydra run or multirun folders)."""
    if not root.is_dir():
        raise ReportInputError(f"--runs {root}: no such directory")
    return [_parse_metrics_json(p) for p in sorted(root.rglob("metrics.json"))]


def load_mlflow(tracking_uri: str, experiment: str) -> list[RunResult]:
    """Runs of one MLflow experiment that carry `method` and `seed` tags."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        names = sorted(e.name for e in client.search_experiments())
        raise ReportInputError(
            f"MLflow {tracking_uri}: no experiment named {experiment!r}; found {names}"
        )
    results: list[RunResult] = []
    token = None
    while True:
        page = client.search_runs(
            [exp.experiment_id],
            max_results=1000,
            page_token=token,
            order_by=["attributes.start_time ASC"],  # a rerun comes later and wins in merge_runs
        )
        for run in page:
            tags = run.data.tags
            if "method" not in tags or "seed" not in tags:
                continue  # not a comparison run (a parent run, a notebook run)
            try:
                seed = int(tags["seed"])
            except ValueError as err:
                raise ReportInputError(
                    f"MLflow run {run.info.run_id}: tag 'seed' must be an integer, got {tags['seed']!r}"
                ) from err
            results.append(
                RunResult(
                    tags["method"],
                    seed,
                    run.info.status,
                    tags.get("error"),
                    {k: float(v) for k, v in run.data.metrics.items()},
                    f"mlflow:{run.info.run_id}",
                )
            )
        token = page.token
        if not token:
            return results


def load_qos_timeseries(root: Path) -> pd.DataFrame | None:
    """Every qos_timeseries.csv below `root`, concatenated; None if there is none."""
    frames = []
    for path in sorted(root.rglob("qos_timeseries.csv")):
        frame = pd.read_csv(path)
        missing = {"interval", "method", "seed"} - set(frame.columns)
        if missing:
            raise ReportInputError(f"{path}: missing column(s) {sorted(missing)}")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def merge_runs(*sources: Iterable[RunResult]) -> list[RunResult]:
    """One run per (method, seed): a finished run beats a failed one, a later source an earlier."""
    chosen: dict[tuple[str, int], RunResult] = {}
    for source in sources:
        for run in source:
            key = (run.method, run.seed)
            old = chosen.get(key)
            if old is None or run.finished or not old.finished:
                chosen[key] = run
    return sorted(chosen.values(), key=lambda r: (method_rank(r.method), r.seed))


# ----------------------------------------------------------------------------- statistics


def method_rank(method: str) -> tuple[int, str]:
    return (
        (METHOD_ORDER.index(method), "") if method in METHOD_ORDER else (len(METHOD_ORDER), method)
    )


def _metric_rank(metric: str) -> tuple[int, str]:
    known = list(DIRECTIONS)
    return (known.index(metric), "") if metric in known else (len(known), metric)


def mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """(mean, 95 % t-interval half-width); the half-width is NaN for a single value."""
    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, math.nan
    half = stats.t.ppf(0.975, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size)
    # Identical values (a deterministic method) give a rounding-level spread: report it as 0.
    return mean, 0.0 if half <= 1e-9 * max(abs(mean), 1.0) else float(half)


def summarise(
    runs: Sequence[RunResult], prefix: str = "test/", bounds: Sequence[str] = ("oracle",)
) -> pd.DataFrame:
    """Tidy table: method, metric, direction, n, mean, ci95, best (one row per pair present).

    Non-finite values count as absent for that seed. `best` marks the best mean per metric
    in its direction among methods not listed in `bounds`.
    """
    rows = []
    for method in sorted({r.method for r in runs if r.finished}, key=method_rank):
        done = [r for r in runs if r.finished and r.method == method]
        names = {m for r in done for m in r.metrics if m.startswith(prefix)}
        for metric in sorted(names, key=_metric_rank):
            values = [
                r.metrics[metric] for r in done if math.isfinite(r.metrics.get(metric, math.nan))
            ]
            if not values:
                continue
            mean, ci = mean_ci(values)
            rows.append(
                {
                    "method": method,
                    "metric": metric,
                    "direction": DIRECTIONS.get(metric, "unknown"),
                    "n": len(values),
                    "mean": mean,
                    "ci95": ci,
                }
            )
    table = pd.DataFrame(rows, columns=["method", "metric", "direction", "n", "mean", "ci95"])
    table["best"] = False
    for metric, group in table.groupby("metric", sort=False):
        direction = DIRECTIONS.get(metric)
        eligible = group[~group["method"].isin(list(bounds))]
        if direction is None or eligible.empty:
            continue
        extreme = eligible["mean"].min() if direction == "lower" else eligible["mean"].max()
        table.loc[eligible.index[np.isclose(eligible["mean"], extreme, rtol=1e-9)], "best"] = True
    return table


# ----------------------------------------------------------------------------- rendering


def _fmt(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{value:.4g}"


def _cell(row: pd.Series) -> str:
    text = (
        _fmt(row["mean"])
        if math.isnan(row["ci95"])
        else f"{_fmt(row['mean'])} ± {_fmt(row['ci95'])}"
    )
    return f"**{text}**" if row["best"] else text


def render_markdown(table: pd.DataFrame, runs: Sequence[RunResult], bounds: Sequence[str]) -> str:
    """The comparison as Markdown: one table per metric group, directions, best, failures."""
    methods = sorted(table["method"].unique(), key=method_rank)
    seeds = {m: sorted({r.seed for r in runs if r.finished and r.method == m}) for m in methods}
    lines = [
        "# Method comparison",
        "",
        "Mean ± 95 % confidence half-width over seeds (Student t, n - 1 degrees of freedom).",
        "↓ lower is better, ↑ higher is better. **Bold**: the best method for that metric (ties",
        f"all bold); not eligible, as bounds: {', '.join(bounds) or 'none'}.",
        "—: the method has no notion of that figure (absent, not zero).",
        "",
    ]
    present = set(table["metric"])
    groups = dict(METRIC_GROUPS)
    other = sorted(present - set(DIRECTIONS))
    if other:
        groups["Other"] = dict.fromkeys(other, "unknown")
    for title, metrics in groups.items():
        shown = [m for m in metrics if m in present]
        if not shown:
            continue
        arrows = {"lower": " ↓", "higher": " ↑"}
        header = ["method", "seeds"] + [m + arrows.get(DIRECTIONS.get(m, ""), "") for m in shown]
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for method in methods:
            cells = [method, str(len(seeds[method]))]
            for metric in shown:
                hit = table[(table["method"] == method) & (table["metric"] == metric)]
                cells.append(_cell(hit.iloc[0]) if len(hit) else "—")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "## Direction and best method",
        "",
        "| metric | better | best | mean |",
        "|---|---|---|---|",
    ]
    for metric in sorted(present, key=_metric_rank):
        best = table[(table["metric"] == metric) & table["best"]]
        direction = DIRECTIONS.get(metric, "unknown")
        if len(best):
            names = ", ".join(best["method"])
            lines.append(f"| {metric} | {direction} | {names} | {_fmt(best.iloc[0]['mean'])} |")
        else:
            lines.append(f"| {metric} | {direction} | — | — |")
    failed = [r for r in runs if not r.finished]
    lines += ["", "## Failed runs", ""]
    if failed:
        for run in failed:
            error = (run.error or "no error recorded").strip().splitlines()
            lines.append(
                f"- {run.method} seed {run.seed}: {run.status}: {error[-1] if error else ''} ({run.source})"
            )
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"
