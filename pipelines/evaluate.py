"""Aggregate the study's runs for DVC (the `evaluate` stage).

    python pipelines/evaluate.py [--runs runs] [--out reports]

Reads every run's metrics.json and qos_timeseries.csv below `--runs` (one folder per method,
one sub-folder per seed, written by the `train` stages) and writes, atomically:
- `reports/metrics/<method>.json`: the method's headline figures (means over seeds, the SLA's
  95 % CI half-width, seeds finished and failed), one file per method so that
  `dvc metrics show` prints one short row per method (`dvc metrics diff` compares them);
  every metric with its CI is in the report stage's `reports/comparison.csv`;
- `reports/plots/methods.csv`: one row per method with the mean of each test metric;
- `reports/plots/qos/<method>.csv`: QoS per interval, averaged over seeds and episodes
  (`dvc plots show` draws the plots declared at the end of dvc.yaml from both).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pregan.evaluation.comparison import (
    ReportInputError,
    load_qos_timeseries,
    load_run_dirs,
    merge_runs,
    summarise,
)
from pregan.io import write_json_atomic, write_text_atomic

# The columns of `dvc metrics show`: the README's study table without F1 (PA), ROC-AUC and
# HitRate (in reports/comparison.md), short names, so a row stays under 200 characters.
# Absent metrics (the method has no notion of it) stay absent.
HEADLINE = {
    "sla_violation_rate": "sla_pct",
    "mean_response_s": "response_s",
    "energy_kj": "energy_kj",
    "migrations": "migrations",
    "migrations_per_fault": "migr_per_fault",
    "decision_ms": "decision_ms",
    "f1": "f1",
    "class_accuracy": "class_acc",
}


def _round(value: float) -> float:
    """4 significant digits: what a terminal row has room for (comparison.csv keeps all)."""
    return float(f"{float(value):.4g}")


def headline(group: pd.DataFrame, failed: int) -> dict[str, float | int]:
    """One method's row of `dvc metrics show`, from its rows of `summarise`."""
    by_metric = group.assign(metric=group["metric"].str.removeprefix("test/")).set_index("metric")
    row: dict[str, float | int] = {
        short: _round(by_metric.loc[name, "mean"])
        for name, short in HEADLINE.items()
        if name in by_metric.index
    }
    if "sla_violation_rate" in by_metric.index:
        ci95 = float(by_metric.loc["sla_violation_rate", "ci95"])
        if math.isfinite(ci95):  # one seed has no interval
            row["sla_ci95"] = _round(ci95)
    row["seeds"] = int(by_metric["n"].max()) if len(by_metric) else 0
    row["failed"] = failed
    return row


def evaluate(runs_dir: Path, out_dir: Path) -> dict:
    runs = merge_runs(load_run_dirs(runs_dir))
    if not runs:
        raise ReportInputError(f"{runs_dir}: no metrics.json found below it")
    table = summarise(runs)
    failed = Counter(r.method for r in runs if not r.finished)
    summary: dict = {
        str(method): headline(group, failed.get(str(method), 0))
        for method, group in table.groupby("method", sort=False)
    }
    for method, n in failed.items():  # a method whose every seed failed has no table rows
        summary.setdefault(method, {"seeds": 0, "failed": n})
    for method, row in summary.items():
        write_json_atomic(out_dir / "metrics" / f"{method}.json", row)

    wide = table.pivot(index="method", columns="metric", values="mean")
    wide = wide.reindex(list(dict.fromkeys(table["method"])))
    wide.columns = [c.removeprefix("test/") for c in wide.columns]
    write_text_atomic(out_dir / "plots" / "methods.csv", wide.to_csv(index_label="method"))

    series = load_qos_timeseries(runs_dir)
    if series is not None:
        per_interval = series.drop(columns=["seed", "episode"], errors="ignore")
        for method, group in per_interval.groupby("method"):
            mean = group.drop(columns="method").groupby("interval").mean()
            write_text_atomic(out_dir / "plots" / "qos" / f"{method}.csv", mean.to_csv())
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    try:
        summary = evaluate(args.runs, args.out)
    except ReportInputError as err:
        print(f"evaluate: {err}", file=sys.stderr)
        return 2
    failed = sum(int(row["failed"]) for row in summary.values())
    print(f"evaluate: {len(summary)} methods, {failed} failed runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
