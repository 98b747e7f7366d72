"""Aggregate the study's runs for DVC (the `evaluate` stage).

    python pipelines/evaluate.py [--runs runs] [--out reports]

Reads every run's metrics.json and qos_timeseries.csv below `--runs` (one folder per method,
one sub-folder per seed, written by the `train` stages) and writes, atomically:
- `reports/metrics.json`: per method and metric, mean, 95 % CI half-width and n over seeds,
  plus the failed runs by name (`dvc metrics show`, `dvc metrics diff`);
- `reports/plots/methods.csv`: one row per method with the mean of each test metric;
- `reports/plots/qos/<method>.csv`: QoS per interval, averaged over seeds and episodes
  (`dvc plots show` draws both, as declared in dvc.yaml).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pregan.evaluation.comparison import (
    ReportInputError,
    load_qos_timeseries,
    load_run_dirs,
    merge_runs,
    summarise,
)
from pregan.io import write_json_atomic, write_text_atomic


def evaluate(runs_dir: Path, out_dir: Path) -> dict:
    runs = merge_runs(load_run_dirs(runs_dir))
    if not runs:
        raise ReportInputError(f"{runs_dir}: no metrics.json found below it")
    table = summarise(runs)
    summary: dict = {
        method: {
            row.metric.removeprefix("test/"): {"mean": row.mean, "ci95": row.ci95, "n": row.n}
            for row in group.itertuples()
        }
        for method, group in table.groupby("method", sort=False)
    }
    summary["failed_runs"] = [f"{r.method}/seed{r.seed}: {r.error}" for r in runs if not r.finished]
    write_json_atomic(out_dir / "metrics.json", summary)

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
    methods = [m for m in summary if m != "failed_runs"]
    print(f"evaluate: {len(methods)} methods, {len(summary['failed_runs'])} failed runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
