"""Collect the comparison runs into a table, a CSV and plots (the `report` stage).

    python pipelines/report.py --runs logs/compare/multiruns --out reports/
    python pipelines/report.py --mlflow-uri sqlite:///mlflow.db --experiment compare --out reports/

Runs come from Hydra run directories (every `metrics.json` below `--runs`), from an MLflow
experiment (runs tagged `method` and `seed`), or both; a (method, seed) found twice keeps a
finished run over a failed one, then the MLflow one. Every metric is summarised per method
as mean ± 95 % confidence half-width over seeds (Student t, n - 1 degrees of freedom); the
direction of each metric and its best method are stated. The oracle is a bound (it sees the
injected faults), so it is shown but not eligible as "best" unless `--bounds` says otherwise.
Failed runs are left out of the statistics and named. Argparse, not Hydra: the stage reads no
project config, only run outputs.

Outputs (each written atomically): comparison.md, comparison.csv (one row per method and
metric), bars/<metric>.png (mean with 95 % CI error bars), and qos_over_time.png when run
directories hold `qos_timeseries.csv` (columns interval, method, seed and QOS_COLUMNS).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pregan.evaluation.comparison import (
    DIRECTIONS,
    ReportInputError,
    RunResult,
    load_mlflow,
    load_qos_timeseries,
    load_run_dirs,
    merge_runs,
    method_rank,
    render_markdown,
    summarise,
)
from pregan.io import write_atomic
from pregan.simulation.interfaces import QOS_COLUMNS

# ----------------------------------------------------------------------------- plots


def _figure_bytes(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def bar_charts(table: pd.DataFrame) -> dict[str, bytes]:
    """One PNG per metric: mean per method with 95 % CI error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = {}
    for metric, group in table.groupby("metric", sort=False):
        group = group.sort_values("method", key=lambda s: s.map(method_rank))
        fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(group)), 3.2))
        errors = group["ci95"].fillna(0.0).to_numpy()
        colours = ["tab:orange" if b else "tab:blue" for b in group["best"]]
        ax.bar(group["method"], group["mean"], yerr=errors, capsize=4, color=colours)
        direction = DIRECTIONS.get(metric, "unknown")
        ax.set_title(f"{metric} ({direction} is better)")
        ax.set_ylabel(metric.split("/", 1)[-1])
        ax.tick_params(axis="x", rotation=30)
        charts[metric.replace("/", "_")] = _figure_bytes(fig)
    return charts


def qos_plot(series: pd.DataFrame) -> bytes:
    """QoS over time: one panel per QoS column, one line per method (mean over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [c for c in QOS_COLUMNS if c in series.columns]
    n_cols = 3
    n_rows = max(1, math.ceil(len(columns) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 2.8 * n_rows), squeeze=False)
    means = series.groupby(["method", "interval"])[columns].mean()
    for ax, column in zip(axes.flat, columns, strict=False):
        for method in sorted(series["method"].unique(), key=method_rank):
            line = means.loc[method, column]
            ax.plot(line.index, line.to_numpy(), label=method, linewidth=1.2)
        ax.set_title(column)
        ax.set_xlabel("interval")
    for ax in list(axes.flat)[len(columns) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return _figure_bytes(fig)


# ----------------------------------------------------------------------------- writing


def atomic_write(path: Path, data: bytes | str) -> None:
    payload = data.encode() if isinstance(data, str) else data
    write_atomic(path, lambda tmp: tmp.write_bytes(payload))


def write_report(
    runs: Sequence[RunResult],
    out_dir: Path,
    qos: pd.DataFrame | None = None,
    prefix: str = "test/",
    bounds: Sequence[str] = ("oracle",),
) -> dict[str, Path]:
    """Write every output under `out_dir`; returns them by name."""
    if not runs:
        raise ReportInputError("no runs found: nothing to report")
    table = summarise(runs, prefix, bounds)
    written = {
        "markdown": out_dir / "comparison.md",
        "csv": out_dir / "comparison.csv",
    }
    atomic_write(written["markdown"], render_markdown(table, runs, bounds))
    atomic_write(written["csv"], table.to_csv(index=False))
    for name, png in bar_charts(table).items():
        written[f"bar:{name}"] = out_dir / "bars" / f"{name}.png"
        atomic_write(written[f"bar:{name}"], png)
    if qos is not None and len(qos):
        written["qos"] = out_dir / "qos_over_time.png"
        atomic_write(written["qos"], qos_plot(qos))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, help="folder searched for */metrics.json")
    parser.add_argument("--mlflow-uri", help="MLflow tracking URI, e.g. sqlite:///mlflow.db")
    parser.add_argument("--experiment", default="compare", help="MLflow experiment name")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder")
    parser.add_argument("--prefix", default="test/", help="only metrics with this prefix")
    parser.add_argument(
        "--bounds", nargs="*", default=["oracle"], help="methods not eligible as best"
    )
    args = parser.parse_args(argv)
    if args.runs is None and args.mlflow_uri is None:
        parser.error("give --runs, --mlflow-uri, or both")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        dirs = load_run_dirs(args.runs) if args.runs is not None else []
        tracked = load_mlflow(args.mlflow_uri, args.experiment) if args.mlflow_uri else []
        qos = load_qos_timeseries(args.runs) if args.runs is not None else None
        runs = merge_runs(dirs, tracked)
        written = write_report(runs, args.out, qos, args.prefix, args.bounds)
    except ReportInputError as err:
        print(f"report: {err}", file=sys.stderr)
        return 2
    failed = sum(not r.finished for r in runs)
    print(
        f"report: {len(runs)} runs ({failed} failed) -> {written['markdown']} and {len(written) - 1} more files"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
