"""Fourth attempt: PreGAN's score, then the shared label-free threshold, on validation only.

    python reports/detection/sweep_validation_4.py [--root ../shared/data/smd-validation]

Rules (fixed before it ran, reports/detection/choices.md "Fourth attempt"):
- stage 1: PreGAN's forecaster is fitted once per validation machine and window (5 / 10 /
  20); for each of smoothing (trailing mean / EWMA) x span (5 / 15) x aggregate (RMS / max)
  x error normalisation (tail mean / tail z-score) the threshold is recalibrated on the
  held-out train tail and the machine's test split scored. Objective per machine:
  (label-free F1 + best F1 + VUS-PR) / 3. Adopted: the largest mean paired gain over the
  frozen score among variants whose gain exceeds twice its standard error over machines.
- stage 2: every detector sharing the label-free threshold (PCA, Isolation Forest, robust z,
  TranAD, USAD, PreGAN with stage 1's score) is fitted once per machine; each candidate rule
  is set from its held-out tail scores and applied to its test scores. Objective: label-free
  F1, mean over the six detectors per machine; same adoption rule against DSPOT 1e-2.
- stage 3 (addendum, fixed before it ran): PreGAN's diagnosis ranking with stage 1's score:
  the per-dim score, or the forecast error (tail-mean units or tail z-score) or the context
  deviations alone. Objective per machine: (HitRate@100 + NDCG@100) / 2; same rule.
Writes `sweep_validation_4_score.csv`, `_threshold.csv` and `_diagnosis.csv` beside this
file (`--stage 3` alone reads stage 1's CSV for its score). The seven reported machines (../shared/data/smd) are never read here.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from sweep_validation import memoise  # noqa: E402

import pregan.models.detectors.pregan_series_detector as psd  # noqa: E402
from pregan.data.smd import list_machines, load_machine  # noqa: E402
from pregan.evaluation.metrics import (  # noqa: E402
    best_threshold_f1,
    detection_metrics,
    hit_rate_at,
    ndcg_at,
    vus,
)
from pregan.io import write_text_atomic  # noqa: E402
from pregan.models.detectors.series_detectors import Thresholder  # noqa: E402

WINDOWS = (10, 5, 20)
GRID = {
    "smoothing": ("mean", "ewma"),
    "smooth": (5, 15),
    "aggregate": ("rms", "max"),
    "error_norm": ("mean", "zscore"),
}
BASELINE = {
    "window": 10,
    "smoothing": "mean",
    "smooth": 5,
    "aggregate": "rms",
    "error_norm": "mean",
}
"""The score frozen by the first attempt."""

SHARED = ("pca", "iforest", "robust_z", "tranad", "usad", "pregan")
"""Detectors whose label-free threshold is the shared one (random: chance; percentile: own rule)."""

THRESHOLDS: dict[str, dict] = {
    "dspot_1e-2": {"method": "dspot", "risk": 1e-2},
    "dspot_1e-3": {"method": "dspot", "risk": 1e-3},
    "spot_1e-2": {"method": "spot", "risk": 1e-2},
    "pot_1e-2": {"method": "pot", "risk": 1e-2},
    "pot_1e-3": {"method": "pot", "risk": 1e-3},
    "quantile_0.99": {"method": "quantile", "risk": 1e-2},
    "quantile_0.999": {"method": "quantile", "risk": 1e-3},
    "mad_3": {"k": 3.0},
    "mad_5": {"k": 5.0},
    "mad_8": {"k": 8.0},
}
"""Stage 2's candidates; DSPOT / SPOT keep the shared depth, level and alarm budget."""

K_SE = 2.0
"""A variant is adopted only if its mean paired gain exceeds K_SE standard errors."""


def decide(df: pd.DataFrame, keys: list[str], baseline: dict, objective: str) -> pd.DataFrame:
    """Mean per variant, its paired per-machine gain over `baseline` and that gain's SE."""
    base = df.loc[(df[keys] == pd.Series(baseline)[keys]).all(axis=1)].set_index("machine")
    diff = df[objective] - base[objective].reindex(df["machine"]).to_numpy()
    mean = df.groupby(keys).mean(numeric_only=True)
    stats = diff.groupby([df[k] for k in keys]).agg(["mean", "std", "count"])
    mean["gain"] = stats["mean"]
    mean["gain_se"] = stats["std"] / np.sqrt(stats["count"])
    mean["qualifies"] = mean["gain"] > K_SE * mean["gain_se"]
    return mean.sort_values(objective, ascending=False)


def adopted(table: pd.DataFrame, keys: list[str], baseline: dict) -> dict:
    """The qualifying variant with the largest gain, else the baseline."""
    ok = table[table["qualifies"]]
    if ok.empty:
        return dict(baseline)
    best = ok["gain"].idxmax()
    return dict(zip(keys, best if isinstance(best, tuple) else (best,), strict=True))


def detector_cfg(name: str, overrides: dict | None = None):
    base = OmegaConf.load(ROOT / "conf" / "benchmark_detection.yaml")
    cfg = OmegaConf.create(
        {
            "seed": 0,
            "thresholding": base.thresholding,
            "detector": OmegaConf.load(ROOT / "conf" / "detector" / f"{name}.yaml"),
        }
    )
    for k, v in (overrides or {}).items():
        cfg.detector[k] = v
    return cfg.detector


def stage1(root: str, machines: list[str]) -> pd.DataFrame:
    psd.context_deviation = memoise(psd.context_deviation)
    psd.causal_spread = memoise(psd.causal_spread)
    rows = []
    for machine in machines:
        case = load_machine(root, machine)
        for window in WINDOWS:
            t0 = time.perf_counter()
            det = instantiate(detector_cfg("pregan", {"window": window}))
            det.fit(case.train)
            det._errors = memoise(det._errors)
            head, tail = psd.split_calibration(case.train, det.calib_fraction)
            print(
                f"{machine} w{window}: fitted in {time.perf_counter() - t0:.0f} s", file=sys.stderr
            )
            for values in itertools.product(*GRID.values()):
                variant = dict(zip(GRID, values, strict=True))
                for k, v in variant.items():
                    setattr(det, k, v)
                det.fit_error_scale(head, tail)
                det.thresholder.calibrate(det._aggregate(det._dim_scores(tail, head)))
                scores, flags, dim = det.score(case.test)
                rows.append(
                    {
                        "machine": machine,
                        "window": window,
                        **variant,
                        "f1": detection_metrics(case.labels, flags)["f1"],
                        "f1_best": best_threshold_f1(case.labels, scores)["f1_best"],
                        "vus_pr": vus(case.labels, scores)["vus_pr"],
                        "hitrate@100": hit_rate_at(dim, case.root_cause, 100),
                        "flag_rate": float(flags.mean()),
                    }
                )
            print(
                f"{machine} w{window}: swept in {time.perf_counter() - t0:.0f} s", file=sys.stderr
            )
    df = pd.DataFrame(rows)
    df["objective"] = (df["f1"] + df["f1_best"] + df["vus_pr"]) / 3
    return df


def mad_flags(calib: np.ndarray, scores: np.ndarray, k: float) -> np.ndarray:
    """Static median + k * 1.4826 * MAD of the held-out tail scores."""
    med = float(np.median(calib))
    mad = 1.4826 * float(np.median(np.abs(calib - med)))
    return scores > med + k * mad


def stage2(root: str, machines: list[str], pregan: dict) -> pd.DataFrame:
    shared = OmegaConf.load(ROOT / "conf" / "benchmark_detection.yaml").thresholding
    rows = []
    for machine in machines:
        case = load_machine(root, machine)
        for name in SHARED:
            t0 = time.perf_counter()
            det = instantiate(detector_cfg(name, pregan if name == "pregan" else None))
            det.fit(case.train)
            scores = det.score(case.test)[0]
            calib = det.thresholder.calib
            for rule, spec in THRESHOLDS.items():
                if "k" in spec:
                    flags = mad_flags(calib, scores, spec["k"])
                else:
                    th = Thresholder.from_spec({**shared, **spec})
                    th.calibrate(calib)
                    flags = th.flag(scores)
                rows.append(
                    {
                        "machine": machine,
                        "detector": name,
                        "rule": rule,
                        "f1": detection_metrics(case.labels, flags)["f1"],
                        "flag_rate": float(flags.mean()),
                    }
                )
            print(f"{machine} {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return pd.DataFrame(rows)


def stage3(root: str, machines: list[str], pregan: dict) -> pd.DataFrame:
    """PreGAN's diagnosis ranking: the per-dim score or one of its terms alone."""
    rows = []
    for machine in machines:
        case = load_machine(root, machine)
        det = instantiate(detector_cfg("pregan", pregan))
        det.fit(case.train)
        for diagnosis in psd.DIAGNOSES:
            det.diagnosis = diagnosis
            dim = det.score(case.test)[2]
            hit, ndcg = hit_rate_at(dim, case.root_cause, 100), ndcg_at(dim, case.root_cause, 100)
            rows.append(
                {"machine": machine, "diagnosis": diagnosis, "hitrate@100": hit, "ndcg@100": ndcg}
            )
    df = pd.DataFrame(rows)
    df["objective"] = (df["hitrate@100"] + df["ndcg@100"]) / 2
    return df


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=str(ROOT.parent / "shared" / "data" / "smd-validation"))
    parser.add_argument("--machines", nargs="*", help="default: every machine under --root")
    parser.add_argument("--stage", type=int, choices=(1, 2, 3), nargs="*", default=[1, 2, 3])
    args = parser.parse_args()
    if "smd-validation" not in args.root:
        sys.exit("sweep_validation_4: choose on the validation ground only")
    torch.set_num_threads(1)
    machines = args.machines or list_machines(args.root)
    score_csv = HERE / "sweep_validation_4_score.csv"
    keys = ["window", *GRID]
    if 1 in args.stage:
        df = stage1(args.root, machines)
        write_text_atomic(score_csv, df.to_csv(index=False, float_format="%.5g"))
    df = pd.read_csv(score_csv)
    table = decide(df, keys, BASELINE, "objective")
    print(table.head(12).round(3).to_string())
    choice = adopted(table, keys, BASELINE)
    print(f"stage 1 adopts: {choice}")
    overrides = {k: (int(v) if isinstance(v, np.integer) else v) for k, v in choice.items()}
    if 2 in args.stage:
        th = stage2(args.root, machines, overrides)
        write_text_atomic(
            HERE / "sweep_validation_4_threshold.csv", th.to_csv(index=False, float_format="%.5g")
        )
        per_machine = th.groupby(["machine", "rule"], as_index=False)["f1"].mean()
        table2 = decide(per_machine, ["rule"], {"rule": "dspot_1e-2"}, "f1")
        print(table2.round(3).to_string())
        by_det = th.pivot_table(index="rule", columns="detector", values="f1", aggfunc="mean")
        print(by_det.round(3).to_string())
        print(f"stage 2 adopts: {adopted(table2, ['rule'], {'rule': 'dspot_1e-2'})}")
    if 3 in args.stage:
        diag = stage3(args.root, machines, overrides)
        write_text_atomic(
            HERE / "sweep_validation_4_diagnosis.csv", diag.to_csv(index=False, float_format="%.5g")
        )
        table3 = decide(diag, ["diagnosis"], {"diagnosis": "score"}, "objective")
        print(table3.round(3).to_string())
        print(f"stage 3 adopts: {adopted(table3, ['diagnosis'], {'diagnosis': 'score'})}")


if __name__ == "__main__":
    main()
