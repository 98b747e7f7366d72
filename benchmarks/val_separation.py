"""How many test episodes per seed would separate PreGAN from `evacuate` and `planner`?
Decided on validation episodes only (`benchmarks/val_recovery.py --episodes N` files).

    python benchmarks/val_separation.py benchmarks/results/separation/val_seed*.json \
        --out benchmarks/results/separation/summary.md

The study's paired test (pipelines/claims.py) takes, per run seed, the mean over that seed's
own episodes of the difference a - b, then a t interval over S seeds. Per seed that mean
varies by the seed's model (sigma_seed^2: its classifier and GAN) and by its episodes
(sigma_ep^2 / E for E episodes). On validation every seed plays the same episodes, so a
two-way layout d[seed, episode] = mu + a_seed + b_episode + e separates them:
- sigma_ep^2: the spread of d over one seed's episodes (b + e), averaged over seeds;
- sigma_seed^2: the variance of the seed means less the residual's share e / E_val.
The projected half-width at E episodes and S seeds is t(0.975, S-1) sqrt((sigma_seed^2 +
sigma_ep^2 / E) / S); "episodes needed" is the least E whose half-width is below the validation
mean |mu| (none when sigma_seed alone is too wide: more episodes cannot help, more seeds could).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

from pregan.io import write_text_atomic

PAIRS = (("pregan", "evacuate"), ("pregan", "planner"))
METRICS = (("sla_violation_rate", "SLA violations (points)"), ("mean_response_s", "response (s)"))


def differences(files: list[Path], a: str, b: str, metric: str) -> np.ndarray:
    """(K seeds, E episodes) per-episode a - b; every file must hold the same episodes."""
    rows, episodes = [], None
    for path in files:
        run = json.loads(path.read_text())
        if episodes is None:
            episodes = run["val_seeds"]
        elif run["val_seeds"] != episodes:
            raise ValueError(f"{path}: other validation episodes than {files[0]}")
        ea, eb = (run["methods"][m]["episodes"] for m in (a, b))
        rows.append([x[metric] - y[metric] for x, y in zip(ea, eb, strict=True)])
    return np.asarray(rows, dtype=np.float64)


def components(d: np.ndarray) -> dict[str, float]:
    """mu, sigma_ep^2 and sigma_seed^2 of a (K, E) table (see the module docstring)."""
    k, e = d.shape
    seed_means, ep_means, grand = d.mean(1), d.mean(0), d.mean()
    within = float(d.var(axis=1, ddof=1).mean())  # b + e
    resid = d - seed_means[:, None] - ep_means[None, :] + grand
    s2_resid = float((resid**2).sum() / max((k - 1) * (e - 1), 1))
    s2_seed = max(0.0, float(seed_means.var(ddof=1)) - s2_resid / e) if k > 1 else 0.0
    return {"mu": float(grand), "s2_ep": within, "s2_seed": s2_seed}


def half_width(c: dict[str, float], episodes: int, seeds: int) -> float:
    return float(
        stats.t.ppf(0.975, seeds - 1) * math.sqrt((c["s2_seed"] + c["s2_ep"] / episodes) / seeds)
    )


def needed(c: dict[str, float], seeds: int, cap: int = 10_000) -> int | None:
    """Least episodes per seed whose projected half-width is below |mu|; None if none <= cap."""
    for n in range(1, cap + 1):
        if half_width(c, n, seeds) < abs(c["mu"]):
            return n
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--seeds", type=int, default=5, help="run seeds of the study")
    parser.add_argument("--episodes", type=int, nargs="+", default=[5, 10, 20, 40])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    k = len(args.files)
    e = len(json.loads(args.files[0].read_text())["val_seeds"])
    lines = [
        "# Episodes per seed needed to separate PreGAN (validation episodes only)",
        "",
        f"Produced by `python benchmarks/val_separation.py {' '.join(map(str, args.files))}`",
        f"from {k} run seeds x {e} validation episodes (`benchmarks/val_recovery.py "
        "--episodes`); projected 95 % half-widths for the study's "
        f"{args.seeds} seeds (method: the script's docstring).",
        "",
        "| a - b | metric | val mean | sigma_seed | sigma_ep | "
        + " | ".join(f"half-width at {n}" for n in args.episodes)
        + " | episodes needed |",
        "|---|---|---|---|---|" + "---|" * len(args.episodes) + "---|",
    ]
    for a, b in PAIRS:
        for metric, label in METRICS:
            c = components(differences(args.files, a, b, metric))
            n = needed(c, args.seeds)
            cells = " | ".join(f"{half_width(c, x, args.seeds):.2f}" for x in args.episodes)
            lines.append(
                f"| {a} - {b} | {label} | {c['mu']:+.2f} | {math.sqrt(c['s2_seed']):.2f} | "
                f"{math.sqrt(c['s2_ep']):.2f} | {cells} | {n if n is not None else '> 10000'} |"
            )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        write_text_atomic(args.out, text)


if __name__ == "__main__":
    main()
