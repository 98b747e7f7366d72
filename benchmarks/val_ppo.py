"""Validation sweep of model=ppo: each setting trained on the training seeds, scored on the
validation seeds only (`data.val_seeds`), beside the scheduler alone on the same episodes.

    python benchmarks/val_ppo.py --out val_ppo.json "model.keep_bias=3" "model.keep_bias=6,model.ent_coef=0"
    python benchmarks/val_ppo.py --out v.json --base simulation.n_hosts=8 "model.keep_bias=0"

Each positional argument is one setting: comma-separated Hydra overrides of `model=ppo`
(applied to conf/train.yaml, 16 hosts by default). Writes per setting the best validation
mean return, the step it was reached at, the training time and the learning curve; never
touches a test seed, so settings can be chosen on these figures.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import hydra
import numpy as np
import torch

from pregan.envs.config import load_config
from pregan.envs.vector import EdgeRecoveryVectorEnv
from pregan.io import write_json_atomic
from pregan.models.interfaces import FitContext


def scheduler_alone(cfg) -> float:
    """Mean validation return when every slot keeps the scheduler's proposal (= none)."""
    seeds = [int(s) for s in cfg.data.val_seeds]
    venv = EdgeRecoveryVectorEnv(len(seeds), cfg)
    venv.reset(seed=seeds)
    total, keep = np.zeros(len(seeds)), np.zeros(venv.action_space.shape, dtype=np.int64)
    while True:
        _, reward, terminated, _, _ = venv.step(keep)
        total += reward
        if terminated.all():
            return float(total.mean())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--base", action="append", default=[], help="override for every setting")
    p.add_argument("settings", nargs="+", help="comma-separated overrides per setting")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    results: dict = {"load_before": os.getloadavg()[0]}
    base = load_config(["model=ppo", "model.progress_bar=false", *args.base])
    results["none_val_return"] = scheduler_alone(base)
    print(f"scheduler alone: {results['none_val_return']:.4f}")
    for setting in args.settings:
        overrides = ["model=ppo", "model.progress_bar=false", *args.base] + [
            o for o in setting.split(",") if o
        ]
        cfg = load_config(overrides)
        method = hydra.utils.instantiate(cfg.model, _recursive_=False)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            metrics = method.fit(
                FitContext(Path(tmp), Path(tmp), Path(tmp), args.seed, cfg.trainer, [], cfg)
            )
            wall = time.perf_counter() - start
        results[setting] = {
            **metrics,
            "wall_s": wall,
            "curve": [list(map(float, row)) for row in method.curve],
        }
        print(f"{setting}: best val {metrics['ppo/best_val_return']:.4f} at "
              f"{metrics['ppo/best_step']:.0f}, {wall:.1f} s")  # fmt: skip
    results["load_after"] = os.getloadavg()[0]
    write_json_atomic(args.out, results)


if __name__ == "__main__":
    main()
