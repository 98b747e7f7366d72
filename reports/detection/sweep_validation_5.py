"""Fifth attempt: a new score family, a second view and a diagnosis ranking, on validation only.

    python reports/detection/sweep_validation_5.py [--root ../shared/data/smd-validation]

Rules (fixed before it ran, reports/detection/choices.md "Fifth attempt"):
- stage 1, detection: against today's frozen PreGAN (conf/detector/pregan.yaml), (a) the
  reconstruction head beside the forecast, its window error added per dim with weight 0.5 /
  1.0 (`recon_head_weight`); (c) the PCA reference's score fused with PreGAN's at the
  aggregate level, each in units of its held-out tail, PCA weight 0.5 / 0.25
  (`pca_view_weight`); the addendum: (b) the forecaster in robust per-dim units
  (`input_scale: robust`). Objective per machine: (label-free F1 + best F1 + VUS-PR) / 3.
- stage 2, diagnosis only, on stage 1's choice: the per-dim score plus 0.5 / 1.0 x each
  dim's training robust z (`train_weight`), or the mean of the two rankings' rank positions
  (`diagnosis: rank_train`). Objective per machine: (HitRate@100 + NDCG@100) / 2.
Adopted in each stage: the largest mean paired gain over the baseline among variants whose
gain exceeds twice its standard error over the four machines; else the baseline.
Every variant is a fresh detector fitted as the benchmark fits it (seed 0, 1 torch thread).
Writes `sweep_validation_5_score.csv` and `_diagnosis.csv` beside this file. The seven
reported machines (../shared/data/smd) are never read here.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
sys.path.insert(0, str(HERE))

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from sweep_validation_4 import adopted, decide, detector_cfg  # noqa: E402

from pregan.data.smd import list_machines, load_machine  # noqa: E402
from pregan.evaluation.metrics import (  # noqa: E402
    best_threshold_f1,
    detection_metrics,
    hit_rate_at,
    ndcg_at,
    vus,
)
from pregan.io import write_text_atomic  # noqa: E402

SCORE_VARIANTS: dict[str, dict] = {
    "baseline": {},
    "recon_head_0.5": {"recon_head_weight": 0.5},
    "recon_head_1.0": {"recon_head_weight": 1.0},
    "pca_view_0.5": {"pca_view_weight": 0.5},
    "pca_view_0.25": {"pca_view_weight": 0.25},
    "robust_input": {"input_scale": "robust"},  # the addendum, fixed after the rows above ran
}
"""Stage 1: PreGAN config overrides per variant (the baseline is conf/detector/pregan.yaml)."""

DIAGNOSIS_VARIANTS: dict[str, dict] = {
    "score": {"diagnosis": "score", "train_weight": 0.0},
    "score+train_0.5": {"diagnosis": "score", "train_weight": 0.5},
    "score+train_1.0": {"diagnosis": "score", "train_weight": 1.0},
    "rank_train": {"diagnosis": "rank_train", "train_weight": 0.0},
}
"""Stage 2: the diagnosis ranking, detection fixed at stage 1's choice."""


def stage1(root: str, machines: list[str]) -> pd.DataFrame:
    rows = []
    for machine in machines:
        case = load_machine(root, machine)
        for variant, overrides in SCORE_VARIANTS.items():
            t0 = time.perf_counter()
            det = instantiate(detector_cfg("pregan", overrides))
            det.fit(case.train)
            fit_s = time.perf_counter() - t0
            scores, flags, dim = det.score(case.test)
            rows.append(
                {
                    "machine": machine,
                    "variant": variant,
                    "f1": detection_metrics(case.labels, flags)["f1"],
                    "f1_best": best_threshold_f1(case.labels, scores)["f1_best"],
                    "vus_pr": vus(case.labels, scores)["vus_pr"],
                    "hitrate@100": hit_rate_at(dim, case.root_cause, 100),
                    "ndcg@100": ndcg_at(dim, case.root_cause, 100),
                    "flag_rate": float(flags.mean()),
                    "fit_s": fit_s,
                }
            )
            print(f"{machine} {variant}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    df = pd.DataFrame(rows)
    df["objective"] = (df["f1"] + df["f1_best"] + df["vus_pr"]) / 3
    return df


def stage2(root: str, machines: list[str], score: dict) -> pd.DataFrame:
    rows = []
    for machine in machines:
        case = load_machine(root, machine)
        det = instantiate(detector_cfg("pregan", score))
        det.fit(case.train)
        for variant, settings in DIAGNOSIS_VARIANTS.items():
            for k, v in settings.items():
                setattr(det, k, v)
            dim = det.score(case.test)[2]
            rows.append(
                {
                    "machine": machine,
                    "variant": variant,
                    "hitrate@100": hit_rate_at(dim, case.root_cause, 100),
                    "ndcg@100": ndcg_at(dim, case.root_cause, 100),
                }
            )
        print(f"{machine}: diagnosis variants scored", file=sys.stderr)
    df = pd.DataFrame(rows)
    df["objective"] = (df["hitrate@100"] + df["ndcg@100"]) / 2
    return df


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=str(ROOT.parent / "shared" / "data" / "smd-validation"))
    parser.add_argument("--machines", nargs="*", help="default: every machine under --root")
    parser.add_argument("--stage", type=int, choices=(1, 2), nargs="*", default=[1, 2])
    args = parser.parse_args()
    if "smd-validation" not in args.root:
        sys.exit("sweep_validation_5: choose on the validation ground only")
    torch.set_num_threads(1)
    machines = args.machines or list_machines(args.root)
    score_csv = HERE / "sweep_validation_5_score.csv"
    if 1 in args.stage:
        df = stage1(args.root, machines)
        write_text_atomic(score_csv, df.to_csv(index=False, float_format="%.5g"))
    table = decide(pd.read_csv(score_csv), ["variant"], {"variant": "baseline"}, "objective")
    print(table.round(3).to_string())
    choice = adopted(table, ["variant"], {"variant": "baseline"})["variant"]
    print(f"stage 1 adopts: {choice}")
    if 2 in args.stage:
        diag = stage2(args.root, machines, SCORE_VARIANTS[choice])
        write_text_atomic(
            HERE / "sweep_validation_5_diagnosis.csv",
            diag.to_csv(index=False, float_format="%.5g"),
        )
        table2 = decide(diag, ["variant"], {"variant": "score"}, "objective")
        print(table2.round(3).to_string())
        print(f"stage 2 adopts: {adopted(table2, ['variant'], {'variant': 'score'})['variant']}")


if __name__ == "__main__":
    main()
