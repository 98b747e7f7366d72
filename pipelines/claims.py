"""Paired comparisons and the paper's headline claims, from the study's runs (the `claims` stage).

    python pipelines/claims.py --runs runs --out reports

Every method with seed k ran the same test episodes, so methods are compared by their per-seed
differences: mean of the differences ± 95 % half-width (Student t, n - 1 degrees of freedom),
and in how many seeds the first method was better. A difference whose interval excludes zero
is marked as separated. The paper's claims (Tuli et al., INFOCOM 2022: 5.1 % more accurate
detection, higher diagnosis scores, 23.8 % lower overheads than the best baseline, up to 12 %
fewer SLO violations) are set beside the same paired figures, against the best of the four
published baselines on each metric (chosen per metric by its mean over seeds).

Outputs (atomic): paired.md, paired.csv, paper_claims.md. Argparse, not Hydra: the stage reads
only run outputs.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pregan.evaluation.comparison import (
    DIRECTIONS,
    ReportInputError,
    RunResult,
    load_run_dirs,
    mean_ci,
)
from pregan.io import write_atomic

BASELINES = ("pcft", "dftm", "eclb", "cmodlb")
PAIRS: tuple[tuple[str, str], ...] = (
    ("pregan", "evacuate"),
    ("pregan", "planner"),
    ("pregan", "none"),
    ("pregan", "oracle"),
    ("pregan_online", "evacuate"),
    ("pregan_online", "pregan"),
    ("planner", "evacuate"),
    ("planner", "none"),
    ("evacuate", "none"),
    ("threshold", "evacuate"),
    ("oracle", "planner"),
    ("oracle", "none"),
)
QOS_METRICS = (
    "test/sla_violation_rate",
    "test/mean_response_s",
    "test/energy_kj",
    "test/migrations",
)


def per_seed(runs: Sequence[RunResult], method: str, metric: str) -> dict[int, float]:
    """{seed: value} over the finished runs of `method` that report `metric`."""
    return {
        r.seed: r.metrics[metric]
        for r in runs
        if r.method == method and r.finished and math.isfinite(r.metrics.get(metric, math.nan))
    }


def paired(runs: Sequence[RunResult], a: str, b: str, metric: str) -> dict[str, float] | None:
    """a - b over the seeds both ran: mean, 95 % half-width, seeds, seeds where a is better."""
    va, vb = per_seed(runs, a, metric), per_seed(runs, b, metric)
    seeds = sorted(set(va) & set(vb))
    if not seeds:
        return None
    diff = np.array([va[s] - vb[s] for s in seeds])
    mean, half = mean_ci(diff)
    sign = -1.0 if DIRECTIONS.get(metric, "lower") == "lower" else 1.0
    return {
        "mean": mean,
        "half_width": half,
        "n": len(seeds),
        "a_better": int(np.sum(sign * diff > 0)),
        "separated": bool(math.isfinite(half) and abs(mean) > half),
    }


def paired_table(runs: Sequence[RunResult]) -> pd.DataFrame:
    rows = []
    for a, b in PAIRS:
        for metric in QOS_METRICS:
            res = paired(runs, a, b, metric)
            if res is not None:
                rows.append({"a": a, "b": b, "metric": metric, **res})
    return pd.DataFrame(rows)


def _pm(mean: float, half: float, digits: int = 2) -> str:
    return (
        f"{mean:+.{digits}f} ± {half:.{digits}f}" if math.isfinite(half) else f"{mean:+.{digits}f}"
    )


def render_paired(table: pd.DataFrame, runs: Sequence[RunResult]) -> str:
    lines = [
        "# Paired differences between methods (same test episodes per seed)",
        "",
        "Produced by `python pipelines/claims.py --runs runs --out reports` (DVC stage `claims`).",
        "Each cell: mean of the per-seed differences a − b ± 95 % half-width (t, n − 1),",
        "then in how many seeds a was better; **bold** where the interval excludes zero.",
        "",
        "| a − b | SLA violations (points) | mean response (s) | energy (kJ) | migrations |",
        "|---|---|---|---|---|",
    ]
    for (a, b), group in table.groupby(["a", "b"], sort=False):
        cells = []
        for metric in QOS_METRICS:
            row = group[group.metric == metric]
            if row.empty:
                cells.append("—")
                continue
            r = row.iloc[0]
            text = f"{_pm(r['mean'], r['half_width'], 1 if 'response' in metric else 2)} ({r['a_better']}/{r['n']})"
            cells.append(f"**{text}**" if r["separated"] else text)
        lines.append(f"| {a} − {b} | " + " | ".join(cells) + " |")
    sla = {
        m: np.mean(list(per_seed(runs, m, "test/sla_violation_rate").values()))
        for m in sorted({r.method for r in runs})
        if per_seed(runs, m, "test/sla_violation_rate")
    }
    lines += [
        "",
        "## Where each method lands between `none` and `oracle` (SLA violations, mean %)",
        "",
    ]
    lines += [f"- {m}: {v:.2f}" for m, v in sorted(sla.items(), key=lambda kv: kv[1])]
    if {"evacuate", "planner", "pregan"} <= set(sla):
        gap = sla["evacuate"] - sla["planner"]
        closed = (sla["evacuate"] - sla["pregan"]) / gap if gap > 0 else math.nan
        lines += [
            "",
            "Share of the evacuate − planner SLA gap that PreGAN closes: "
            + (
                f"{closed:.2f}"
                if math.isfinite(closed)
                else "undefined (the planner does not beat evacuate)"
            ),
        ]
    return "\n".join(lines) + "\n"


def best_baseline(runs: Sequence[RunResult], metric: str) -> str | None:
    """The published baseline with the best mean of `metric` (None if none reports it)."""
    means = {b: np.mean(list(v.values())) for b in BASELINES if (v := per_seed(runs, b, metric))}
    if not means:
        return None
    pick = min if DIRECTIONS.get(metric, "lower") == "lower" else max
    return pick(means, key=means.get)


def relative(runs: Sequence[RunResult], a: str, b: str, metric: str) -> tuple[float, float] | None:
    """Per-seed relative improvement of a over b in % (positive: a better), mean ± half-width."""
    va, vb = per_seed(runs, a, metric), per_seed(runs, b, metric)
    seeds = [s for s in sorted(set(va) & set(vb)) if vb[s] != 0]
    if not seeds:
        return None
    sign = -1.0 if DIRECTIONS.get(metric, "lower") == "lower" else 1.0
    rel = np.array([100 * sign * (va[s] - vb[s]) / abs(vb[s]) for s in seeds])
    return mean_ci(rel)


CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("5.1 % more accurate fault detection", "test/f1", "F1 (point-wise)"),
    ("higher diagnosis scores", "test/hitrate_100", "HitRate@100"),
    ("23.8 % lower overheads (read as decision time)", "test/decision_ms", "decision ms"),
    (
        "23.8 % lower overheads (read as migrations per fault)",
        "test/migrations_per_fault",
        "migrations per fault",
    ),
    ("up to 12 % fewer SLO violations", "test/sla_violation_rate", "SLA violation rate"),
)


def render_claims(runs: Sequence[RunResult]) -> str:
    lines = [
        "# The paper's headline claims beside this study",
        "",
        "Produced by `python pipelines/claims.py --runs runs --out reports` (DVC stage `claims`).",
        "Improvement of PreGAN over the best of the four published baselines on that metric",
        "(PCFT, DFTM, ECLB, CMODLB; best by mean over seeds), in % of the baseline, per seed,",
        "mean ± 95 % half-width. A claim holds when the interval lies above zero; 'not",
        "separated' when PreGAN is ahead on the mean but the interval includes zero.",
        "",
        "| claim (paper) | metric | best baseline | PreGAN better by (%) | holds? |",
        "|---|---|---|---|---|",
    ]
    for claim, metric, label in CLAIMS:
        base = best_baseline(runs, metric)
        res = relative(runs, "pregan", base, metric) if base else None
        if res is None:
            lines.append(f"| {claim} | {label} | — | no baseline reports it | — |")
            continue
        mean, half = res
        holds = "yes" if math.isfinite(half) and mean - half > 0 else "no"
        if holds == "no" and mean > 0:
            holds = "not separated"
        lines.append(f"| {claim} | {label} | {base} | {_pm(mean, half, 1)} | {holds} |")
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=Path, required=True, help="folder searched for */metrics.json"
    )
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder")
    args = parser.parse_args(argv)
    try:
        runs = load_run_dirs(args.runs)
    except ReportInputError as err:
        print(f"claims: {err}", file=sys.stderr)
        return 2
    table = paired_table(runs)
    write(args.out / "paired.csv", table.to_csv(index=False))
    write(args.out / "paired.md", render_paired(table, runs))
    write(args.out / "paper_claims.md", render_claims(runs))
    print(f"claims: {len(runs)} runs -> {args.out}/paired.md, paired.csv, paper_claims.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
