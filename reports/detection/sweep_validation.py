"""Choose PreGAN's detection score on the validation ground only (SMD 2-2, 2-5, 3-2, 3-3).

    python reports/detection/sweep_validation.py [--root ../shared/data/smd-validation]

The forecaster is fitted once per validation machine (conf/detector/pregan.yaml, the shared
thresholding of conf/benchmark_detection.yaml); its errors and context deviations are cached,
and each variant of the score (weights of the two terms, smoothing, aggregation over dims) is
recalibrated on the held-out train tail and scored on the machine's test split. The rule,
fixed before the sweep: the variant with the highest mean over the four machines of
(label-free F1 + best F1 + VUS-PR) / 3. Writes `sweep_validation.csv` beside this file.
The seven reported machines (../shared/data/smd) are never read here.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

import pregan.models.detectors.pregan_series_detector as psd  # noqa: E402
from pregan.data.smd import list_machines, load_machine  # noqa: E402
from pregan.evaluation.metrics import best_threshold_f1, detection_metrics, hit_rate_at, vus  # noqa: E402
from pregan.io import write_text_atomic  # noqa: E402

GRIDS = {
    # first attempt: the form of the forecast + context score
    1: {
        "error_weight": (0.0, 1.0, 2.0),
        "context_weight": (0.0, 0.5, 1.0),
        "smooth": (1, 5, 15),
        "aggregate": ("rms", "mean", "top3"),
        "recon_weight": (0.0,),
        "dim_quantile": (0.0,),
    },
    # second attempt (rules in choices.md, fixed before it ran): a non-adapting PCA
    # reconstruction term fused into the frozen score, and the top-5 mean over dims
    2: {
        "error_weight": (1.0,),
        "context_weight": (0.5,),
        "smooth": (5,),
        "aggregate": ("rms", "top5"),
        "recon_weight": (0.0, 0.5, 1.0),
        "dim_quantile": (0.0,),
    },
    # addendum to the second attempt (choices.md): per-dim scaling by a tail quantile
    3: {
        "error_weight": (1.0,),
        "context_weight": (0.5,),
        "smooth": (5,),
        "aggregate": ("rms",),
        "recon_weight": (0.0,),
        "dim_quantile": (0.0, 0.99, 0.999),
    },
}
BASELINE = {
    "error_weight": 1.0,
    "context_weight": 0.5,
    "smooth": 5,
    "aggregate": "rms",
    "recon_weight": 0.0,
    "dim_quantile": 0.0,
}
"""The score frozen by the first attempt; later attempts' paired differences are against it."""


def _key(a: object) -> object:
    if isinstance(a, np.ndarray):  # by content: temporaries reuse ids
        return (
            a.shape,
            hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=16).digest(),
        )
    return a


def memoise(fn):
    """Cache a function of (series, history, window, ...) by the arrays' content."""
    cache: dict = {}

    def wrapped(*args, **kwargs):
        key = tuple(_key(a) for a in args)
        if key not in cache:
            cache[key] = fn(*args, **kwargs)
        return cache[key].copy()

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=str(ROOT.parent / "shared" / "data" / "smd-validation"))
    parser.add_argument("--machines", nargs="*", help="default: every machine under --root")
    parser.add_argument("--attempt", type=int, choices=sorted(GRIDS), default=2)
    parser.add_argument("--out", help="default: sweep_validation[_<attempt>].csv beside this file")
    args = parser.parse_args()
    grid = GRIDS[args.attempt]
    suffix = "" if args.attempt == 1 else f"_{args.attempt}"
    out = Path(args.out or HERE / f"sweep_validation{suffix}.csv")
    if "smd-validation" not in args.root:
        sys.exit("sweep_validation: choose on the validation ground only")
    torch.set_num_threads(1)
    base = OmegaConf.load(ROOT / "conf" / "benchmark_detection.yaml")
    cfg = OmegaConf.create(
        {
            "seed": 0,
            "thresholding": base.thresholding,
            "detector": OmegaConf.load(ROOT / "conf" / "detector" / "pregan.yaml"),
        }
    )
    psd.context_deviation = memoise(psd.context_deviation)
    psd.causal_spread = memoise(psd.causal_spread)
    rows = []
    for machine in args.machines or list_machines(args.root):
        t0 = time.perf_counter()
        case = load_machine(args.root, machine)
        det = instantiate(cfg.detector)
        det.fit(case.train)
        det._errors = memoise(det._errors)
        head, tail = psd.split_calibration(case.train, det.calib_fraction)
        det.fit_recon(head, tail)  # used only by variants with recon_weight > 0
        print(f"{machine}: fitted in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        for values in itertools.product(*grid.values()):
            variant = dict(zip(grid, values, strict=True))
            if variant["error_weight"] == 0 and variant["context_weight"] == 0:
                continue
            for k, v in variant.items():
                setattr(det, k, v)
            det.fit_dim_norm(head, tail)
            det.thresholder.calibrate(det._aggregate(det._dim_scores(tail, head)))
            scores, flags, dim = det.score(case.test)
            rows.append(
                {
                    "machine": machine,
                    **variant,
                    "f1": detection_metrics(case.labels, flags)["f1"],
                    "f1_best": best_threshold_f1(case.labels, scores)["f1_best"],
                    "vus_pr": vus(case.labels, scores)["vus_pr"],
                    "hitrate@100": hit_rate_at(dim, case.root_cause, 100),
                    "flag_rate": float(flags.mean()),
                }
            )
        print(f"{machine}: swept in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    df = pd.DataFrame(rows)
    df["objective"] = (df["f1"] + df["f1_best"] + df["vus_pr"]) / 3
    write_text_atomic(out, df.to_csv(index=False, float_format="%.5g"))
    keys = list(grid)
    mean = df.groupby(keys).mean(numeric_only=True)
    # paired per-machine difference of the objective against the frozen baseline
    base = df.loc[(df[keys] == pd.Series(BASELINE)[keys]).all(axis=1)].set_index("machine")
    diff = df.set_index("machine")["objective"] - base["objective"].reindex(df["machine"]).values
    stats = diff.groupby([df[k].values for k in keys]).agg(["mean", "std", "count"])
    mean["diff"] = stats["mean"].values
    mean["diff_se"] = (stats["std"] / np.sqrt(stats["count"])).values
    print(mean.sort_values("objective", ascending=False).head(15).round(3).to_string())


if __name__ == "__main__":
    main()
