"""Quality of the fault classifier alone on the stored test episodes, over several seeds.

Trains the classifier exactly as `python train.py model=pregan` does (it calls
`pregan.models.recovery.classifier_flagging.fit_classifier` on the composed train config: same traces,
datamodule, trainer, checkpoint and early-stopping callbacks, best checkpoint by val/f1,
threshold chosen on validation), once per training seed, then scores the stored test split
with `pregan.evaluation.metrics`. The traces are `data/traces` when its manifests match the
config (the simulate stage's), else generated once into a temporary folder, as train.py does.
The test episodes are read only to report; nothing is chosen on them. As in the recovery runner, the window ending at interval t is scored against the truth
of interval t, for t = 0..T-2 (the decision at t+1; the last interval has no later decision).

    python benchmarks/eval_classifier.py                          # seeds 0 1 2, default config
    python benchmarks/eval_classifier.py model.classifier.window=6 --seeds 0   # overrides first

Extra arguments are Hydra overrides of conf/train.yaml. Prints one row per seed, mean ± std,
recall per fault kind and per position in the fault (onset, second, later intervals), the
wall time of each fit and the epoch of the kept (best val/f1) checkpoint. The same figures
on the validation split (val/...) are for choosing between configurations; the test split
is only reported.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from pregan.data.episodes import load_split
from pregan.data.generate import ensure_traces
from pregan.data.windows import split_windows
from pregan.evaluation import metrics as M
from pregan.io import write_json_atomic
from pregan.models.interfaces import FitContext
from pregan.models.recovery.fault_classifier import FaultClassifierModule
from pregan.models.recovery.classifier_flagging import fit_classifier
from pregan.simulation.interfaces import FAULT_KINDS

ROOT = Path(__file__).resolve().parents[1]
CRASH = FAULT_KINDS.index("node_crash") + 1
COLUMNS = (
    "precision",
    "recall",
    "f1",
    "f1_pa",
    "roc_auc",
    "class_accuracy",
    "hitrate_100",
    "hitrate_150",
    "ndcg_100",
    "threshold",
    "fit_s",
    "best_epoch",
    "val/f1",
)


def compose_config(overrides: list[str], out_dir: Path) -> DictConfig:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(
            config_name="train",
            overrides=[
                f"paths.root_dir={ROOT}",
                f"paths.output_dir={out_dir}",
                "trainer.enable_progress_bar=false",
                "+trainer.enable_model_summary=false",
                *overrides,
            ],
        )


def fit(
    cfg: DictConfig, seed: int, splits: dict[str, Path], out_dir: Path
) -> tuple[FaultClassifierModule, float, int]:
    """Train as train.py does (seed_everything, then the PreGAN classifier fit); returns
    the model, the fit's wall time and the epoch of the kept checkpoint (-1: the last)."""
    L.seed_everything(seed, workers=True)
    ctx = FitContext(
        train_dir=splits["train"],
        val_dir=splits["val"],
        output_dir=out_dir,
        seed=seed,
        trainer_cfg=cfg.trainer,
        loggers=[],
        simulation_cfg=cfg,
        callbacks_cfg=cfg.get("callbacks"),
    )
    start = time.perf_counter()
    model, _, best = fit_classifier(cfg.model.classifier, ctx)
    elapsed = time.perf_counter() - start
    epoch = int(best.stem.split("_")[-1]) if best is not None and best.stem[-1].isdigit() else -1
    return model, elapsed, epoch


def evaluate(model: FaultClassifierModule, test_dir: Path) -> dict[str, float]:
    """Point-wise/point-adjusted detection, AUC, class accuracy, diagnosis; per-kind recall."""
    episodes = load_split(test_dir)
    window = int(model.hparams.window)
    reads_placement = model.uses_containers
    flags, probs, classes, dims, truth_cls, truth_dims, position = [], [], [], [], [], [], []
    for ep in episodes:
        w = split_windows([ep], window, "test")
        keep = slice(0, w.windows.shape[0] - 1)  # windows ending at t = 0..T-2
        containers = w.containers[keep] if reads_placement else None  # (T-1, W, H)
        demand = w.demand[keep] if model.uses_demand else None  # (T-1, W, H)
        out = model.predict_windows(w.windows[keep], containers, demand)  # fields (T-1, H, ...)
        flags.append(out.host_flags)
        probs.append(out.host_prob)
        classes.append(out.fault_class)
        dims.append(out.dim_scores)
        cls = w.fault_class[keep]  # (T-1, H)
        truth_cls.append(cls)
        truth_dims.append(w.root_cause[keep] > 0)
        position.append(_position_in_fault(cls))
    res: dict[str, float] = {}
    labels, groups = M.flatten_host_grids([c > 0 for c in truth_cls])
    flag_flat, _ = M.flatten_host_grids(flags)
    res.update(M.detection_metrics(labels, flag_flat))
    res["f1_pa"] = M.point_adjusted_f1(labels, flag_flat, groups)
    res["roc_auc"] = float(M.roc_auc(labels, M.flatten_host_grids(probs)[0]))
    true = np.concatenate([c.reshape(-1) for c in truth_cls])
    res["class_accuracy"] = float(
        M.classification_accuracy(true, np.concatenate([c.reshape(-1) for c in classes]))
    )
    mask = [(c > 0) & (c != CRASH) for c in truth_cls]
    dim_scores = np.concatenate([d[m] for d, m in zip(dims, mask, strict=True)])
    dim_truth = np.concatenate([d[m] for d, m in zip(truth_dims, mask, strict=True)])
    for p in (100, 150):
        res[f"hitrate_{p}"] = float(M.hit_rate_at(dim_scores, dim_truth, p))
        res[f"ndcg_{p}"] = float(M.ndcg_at(dim_scores, dim_truth, p))
    res["threshold"] = float(model.threshold)
    flat_flags = np.concatenate([f.reshape(-1) for f in flags])
    for k, kind in enumerate(FAULT_KINDS, start=1):
        res[f"recall/{kind}"] = _share(flat_flags[true == k])
    pos = np.concatenate([p.reshape(-1) for p in position])
    for p, name in ((0, "onset"), (1, "second"), (2, "later")):
        res[f"recall/{name}"] = _share(flat_flags[(true > 0) & (pos == p)])
    res["fp_per_1000_normal"] = 1000 * _share(flat_flags[true == 0])
    return res


def _share(flags: np.ndarray) -> float:
    """Fraction of True in `flags`; NaN when empty (a fault kind absent from the split)."""
    return float(flags.mean()) if flags.size else float("nan")


def _position_in_fault(cls: np.ndarray) -> np.ndarray:
    """(T, H) 0 at a fault's first interval, 1 at its second, 2 later (-1 where no fault)."""
    pos = np.full(cls.shape, -1)
    run = np.zeros(cls.shape[1], dtype=np.int64)  # (H,)
    prev = np.zeros(cls.shape[1], dtype=cls.dtype)  # (H,)
    for t in range(cls.shape[0]):
        run = np.where((cls[t] > 0) & (cls[t] == prev), run + 1, 0)
        prev = cls[t]
        pos[t] = np.where(cls[t] > 0, np.minimum(run, 2), -1)
    return pos


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    """Fit and score once per seed; print the table; return the per-seed rows."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path, help="also write the per-seed results here")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of conf/train.yaml")
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    rows = []
    with tempfile.TemporaryDirectory(prefix="eval_classifier_") as tmp:
        for seed in args.seeds:
            out_dir = Path(tmp) / f"seed{seed}"
            cfg = compose_config([*args.overrides, f"seed={seed}"], out_dir)
            torch.set_num_threads(int(cfg.threads))
            splits = ensure_traces(cfg, Path(tmp))  # generated at most once for all seeds
            model, fit_s, best_epoch = fit(cfg, seed, splits, out_dir)
            with torch.inference_mode():
                row = evaluate(model, splits["test"])
                val = evaluate(model, splits["val"])
            row.update({f"val/{k}": v for k, v in val.items() if k != "threshold"})
            row["fit_s"] = fit_s
            row["best_epoch"] = best_epoch
            row["seed"] = seed
            rows.append(row)
            print(f"seed {seed}: " + "  ".join(f"{c} {row[c]:.3f}" for c in COLUMNS), flush=True)
    keys = [k for k in rows[0] if k != "seed"]
    print(f"\ntest split, {len(rows)} seeds (mean ± std), overrides: {args.overrides or 'none'}")
    for k in keys:
        values = np.array([r[k] for r in rows])
        print(f"  {k:28s} {values.mean():8.3f} ± {values.std():.3f}")
    if args.json:
        write_json_atomic(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
