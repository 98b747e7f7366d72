"""Fit the synthetic workload generator to real Bitbrains traces; write conf/workload/synthetic.yaml.

Run from the repo root: `python pipelines/fit_workload.py [--root DIR] [--length L]`.
The real files are cut into non-overlapping windows of L samples and filtered like the
original (11th CPU sample within [cpu_min, cpu_max] MIPS); 30 files alone would leave a
handful of traces to fit. The yaml holds the generator's parameters and the real windows'
summary statistics, against which tests check generated banks.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pregan.simulation.bitbrains import filtered_series, list_trace_files
from pregan.simulation.workload import (
    N_QUANTILES,
    default_offset,
    fit_series,
    trace_statistics,
)
from pregan.simulation.workload_bank import SERIES_FIELDS

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO_ROOT.parent / "shared" / "data" / "bitbrains" / "rnd" / "2013-9"
DEFAULT_OUT = REPO_ROOT / "conf" / "workload" / "synthetic.yaml"


def _round(value: Any) -> Any:
    """Six significant digits, recursively: readable yaml, far finer than the fit's precision."""
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, np.ndarray | list | tuple):
        return [_round(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(f"{float(value):.6g}")
    return value


def fit(root: Path, length: int, cpu_min: float, cpu_max: float) -> tuple[dict, dict, int, int]:
    """(params, real statistics, files read, windows kept) for the folder `root`."""
    kept = filtered_series(root, length, cpu_min, cpu_max, windows=True)
    real = {k: np.stack([s[k] for s in kept]) for k in (*SERIES_FIELDS, "cpu_cap_mips")}  # (N, L)
    params: dict[str, Any] = {}
    for name in SERIES_FIELDS:
        p = fit_series(real[name], default_offset(real[name]))
        params[name] = {k: getattr(p, k) for k in p.__dataclass_fields__}
    cap = np.maximum(real["cpu_cap_mips"].max(axis=1), real["cpu_mips"].max(axis=1))  # (N,)
    params["cpu_max_mips_quantiles"] = np.quantile(cap, np.linspace(0.0, 1.0, N_QUANTILES))
    stats = trace_statistics({**{k: real[k] for k in SERIES_FIELDS}, "cpu_max_mips": cap})
    return params, stats, len(list_trace_files(root)), len(kept)


def render(params: dict, stats: dict, meta: dict, n_traces: int, length: int) -> str:
    """The yaml text: header comments with provenance, then plain data."""
    header = (
        "# Synthetic container workload (the default: the project runs with no data present).\n"
        "# FITTED, do not edit by hand: written by pipelines/fit_workload.py on\n"
        f"# {meta['root']} ({meta['files']} files; {meta['traces']} windows of {length} samples\n"
        f"# whose 11th CPU sample lies in [{meta['cpu_min_mips']}, {meta['cpu_max_mips']}] MIPS)\n"
        f"# at {meta['fitted_at']}. Rerun that script to refit. Model: see\n"
        "# src/simulation/workload.py. Quantile tables are at probabilities\n"
        f"# linspace(0, 1, {N_QUANTILES}); levels in series units, scales and jumps in log space.\n"
        "# fitted_stats: the real windows' figures the generated banks are tested against\n"
        "# (mean and quantiles pool all samples; cv/ac1 are medians over traces).\n"
    )
    body = {
        "kind": "synthetic",
        "n_traces": n_traces,
        "length": length,
        "params": _round(params),
        "fitted_stats": _round(stats),
        "fit": meta,
    }
    return header + yaml.safe_dump(body, sort_keys=False, default_flow_style=None, width=100)


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, so a crash leaves the old file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder of GWA-T-12 CSVs")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--length", type=int, default=288, help="samples per trace (288 = one day)")
    ap.add_argument("--n-traces", type=int, default=256, help="traces the generator draws")
    ap.add_argument("--cpu-min", type=float, default=500.0)
    ap.add_argument("--cpu-max", type=float, default=3000.0)
    args = ap.parse_args(argv)
    root = args.root.resolve()
    params, stats, n_files, n_kept = fit(root, args.length, args.cpu_min, args.cpu_max)
    shown = os.path.relpath(root, REPO_ROOT) if root.is_relative_to(REPO_ROOT.parent) else str(root)
    meta = {
        "root": shown,
        "files": n_files,
        "traces": n_kept,
        "cpu_min_mips": args.cpu_min,
        "cpu_max_mips": args.cpu_max,
        "fitted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    write_atomic(args.out, render(params, stats, meta, args.n_traces, args.length))
    cpu = stats["cpu_mips"]
    print(
        f"fitted on {n_kept} windows from {n_files} files; CPU mean {cpu['mean']:.0f} MIPS, "
        f"median {cpu['q50']:.0f}, cv {cpu['cv_median']:.3f}, ac1 {cpu['ac1_median']:.3f} -> {args.out}"
    )


if __name__ == "__main__":
    main()
