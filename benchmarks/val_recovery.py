"""Validation-seed comparison of the classifier-driven recovery methods, paired by episode.

    python benchmarks/val_recovery.py --out val.json [--seed 0] [--episodes 20] [overrides ...]

Fits PreGAN's classifier once (the run's seed), then runs `evacuate`, `planner`, `pregan` (its
GAN trained on the training seeds) and `none` on the validation episodes only
(`data.val_seeds`): never a test seed, so every setting can be chosen on its figures. Writes
per method the scored metrics and, per episode, the SLA-violation rate and mean response, so
that differences can be paired by episode. Hydra overrides (e.g. `model.migrator.epochs=5`)
apply to the composed `conf/train.yaml` with `model=pregan`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import hydra
import lightning as L
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from pregan.data.generate import ensure_traces
from pregan.evaluation.runner import run_recovery_episode, score_outcomes
from pregan.io import write_json_atomic
from pregan.models.interfaces import FitContext
from pregan.models.recovery.baselines.none import NoneMethod
from pregan.models.recovery.classifier_flagging import ClassifierFlagger, fit_classifier
from pregan.models.recovery.evacuate import EvacuatePolicy
from pregan.models.recovery.fault_classifier import FaultClassifierModule
from pregan.models.recovery.gan_migrator import GanMigratorModule
from pregan.models.recovery.planner import PlannerPolicy
from pregan.models.recovery.planning import scoring_from
from pregan.models.recovery.pregan import PreGANMethod, PreGANPolicy
from pregan.simulation.interfaces import QOS_COLUMNS

CONF = Path(__file__).resolve().parents[1] / "conf"


def _episode_figures(outcome) -> dict[str, float]:
    q = outcome.qos
    done = q[:, QOS_COLUMNS.index("completed")]
    resp = q[:, QOS_COLUMNS.index("mean_response_s")]
    ok = np.isfinite(resp) & (done > 0)
    return {
        "sla_violation_rate": float(
            100 * q[:, QOS_COLUMNS.index("sla_violations")].sum() / max(done.sum(), 1)
        ),
        "mean_response_s": float((resp[ok] * done[ok]).sum() / max(done[ok].sum(), 1)),
        "migrations": float(q[:, QOS_COLUMNS.index("migrations")].sum()),
        "decision_ms": float(outcome.decision_ms.mean()),
    }


def validation_episodes(cfg, n: int) -> list[int]:
    """The first n of data.val_seeds, data.val_seeds + stride, + 2 * stride, ... (stride:
    data.test_seed_stride); all of data.val_seeds when n is 0. Refuses any seed that is a
    training seed or a test episode of any of the study's run seeds (0-99)."""
    base = [int(s) for s in cfg.data.val_seeds]
    if n <= 0:
        return base
    stride = int(cfg.data.get("test_seed_stride", 0))
    if stride <= 0 and n > len(base):
        raise ValueError(f"--episodes {n} > {len(base)} val seeds and data.test_seed_stride is 0")
    seeds = [s + stride * (i // len(base)) for i, s in enumerate(base * (n // len(base) + 1))]
    seeds = seeds[:n]
    tests = {int(t) + stride * k for t in cfg.data.test_seeds for k in range(100)}
    if clash := sorted(
        (set(seeds) & tests) | (set(seeds) & {int(t) for t in cfg.data.train_seeds})
    ):
        raise ValueError(f"validation episodes {clash} are training or test seeds")
    return seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["none", "evacuate", "planner", "pregan", "pregan_online"],
        help="pregan_online needs pregan before it (it copies its offline GAN)",
    )
    parser.add_argument("--workdir", type=Path, default=Path("outputs/val_recovery"))
    parser.add_argument("--tag", default="base", help="names the GAN's checkpoint folder")
    parser.add_argument(
        "--thresholds",
        type=float,
        nargs="*",
        default=[],
        help="also run pregan at these D thresholds",
    )
    parser.add_argument(
        "--episodes",
        type=int,
        default=0,
        help="run this many validation episodes: data.val_seeds, then the same seeds shifted "
        "by data.test_seed_stride, 2x the stride, ... (0: data.val_seeds alone). The classifier "
        "keeps its validation split (data.val_seeds); none of these seeds is a test or training "
        "seed (checked)",
    )
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["model=pregan", f"seed={args.seed}", *args.overrides],
            return_hydra_config=False,
        )
    torch.set_num_threads(int(cfg.threads))
    L.seed_everything(args.seed, workers=True, verbose=False)
    run_dir = args.workdir / f"seed{args.seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.set_struct(cfg, False)
    cfg.paths.output_dir = str(run_dir)
    splits = ensure_traces(cfg, run_dir)
    ctx = FitContext(
        splits["train"], splits["val"], run_dir, args.seed, cfg.trainer, [], cfg, cfg.callbacks
    )
    start = time.perf_counter()
    cached = run_dir / "classifier.json"  # one classifier per seed, shared by every variant
    if cached.is_file():
        saved = json.loads(cached.read_text())
        classifier = FaultClassifierModule.from_checkpoint(saved["path"]).eval()
        clf_metrics = saved["metrics"]
    else:
        classifier, clf_metrics, best = fit_classifier(cfg.model.classifier, ctx)
        if best is not None:
            write_json_atomic(cached, {"path": str(best), "metrics": clf_metrics})
    window = int(classifier.hparams.window)
    scoring, budget = scoring_from(cfg.model.migrator, "conf/migrator/gan.yaml")
    policies = {}
    fit_s = {"classifier": time.perf_counter() - start}
    for name in args.methods:
        if name == "none":
            policies[name] = NoneMethod().policy()
        elif name == "evacuate":
            policies[name] = EvacuatePolicy(ClassifierFlagger(classifier), window)
        elif name == "planner":
            policies[name] = PlannerPolicy(ClassifierFlagger(classifier), window, scoring, budget)
        elif name == "pregan":
            method = PreGANMethod(classifier=cfg.model.classifier, migrator=cfg.model.migrator)
            method.classifier = classifier
            t0 = time.perf_counter()
            gan_dir = run_dir / args.tag
            gan_dir.mkdir(exist_ok=True)
            method._fit_gan(dataclasses.replace(ctx, output_dir=gan_dir))
            fit_s[name] = time.perf_counter() - t0
            policies[name] = method.policy()
            for thr in args.thresholds:
                policies[f"{name}@{thr:g}"] = variant = method.policy()
                variant.accept_threshold = thr
        elif name == "pregan_online":  # the offline GAN above, copied, learning online
            base = policies["pregan"]
            gan = GanMigratorModule(**base.gan.hparams)
            gan.load_state_dict(base.gan.state_dict())
            policies[name] = PreGANPolicy(
                ClassifierFlagger(classifier),
                gan,
                window,
                online=True,
                accept_threshold=base.accept_threshold,
            )
        else:
            raise ValueError(f"unknown method {name!r}")
    scheduler = hydra.utils.instantiate(cfg.scheduler)
    episodes = validation_episodes(cfg, args.episodes)
    result = {
        "seed": args.seed,
        "tag": args.tag,
        "val_seeds": episodes,
        "overrides": args.overrides,
        "classifier": clf_metrics,
        "fit_s": fit_s,
        "methods": {},
    }
    for name, policy in policies.items():
        outcomes = [run_recovery_episode(cfg, int(s), scheduler, policy) for s in episodes]
        result["methods"][name] = {
            "metrics": score_outcomes(outcomes),
            "episodes": [_episode_figures(o) for o in outcomes],
        }
        m = result["methods"][name]["metrics"]
        print(
            f"{name:10s} SLA {m['sla_violation_rate']:6.2f} %  response {m['mean_response_s']:8.1f} s"
            f"  migrations {m['migrations']:6.1f}  decision {m['decision_ms']:7.2f} ms",
            flush=True,
        )
    write_json_atomic(args.out, result)


if __name__ == "__main__":
    main()
