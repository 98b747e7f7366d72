"""Decision points for training PreGAN's GAN: intervals of training-seed runs with a flagged
host, each with a co-simulation snapshot to score candidates on.

The runs are re-simulated with the scheduler alone (the proposal is always executed), so
the points do not depend on the model, and the same seeds give the same points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pregan.models.recovery.classifier_flagging import Flagger
from pregan.models.recovery.decoding import DecisionPoint, decision_point
from pregan.simulation.cosim import estimate_faults
from pregan.simulation.interfaces import Observation

TEACHER_FAULTS = ("true", "estimated")


def collect_points(
    make_sim: Callable[[int], Any],
    scheduler: Any,
    flagger: Flagger,
    seeds: Sequence[int],
    stride: int = 1,
    min_t: int = 0,
    teacher_faults: str = "true",
) -> list[DecisionPoint]:
    """Decision points from re-running training-seed simulations with the scheduler.

    Every interval t >= `min_t` is forked; once the episode has run, the flagger judges all
    of them in one batch where it can, and every `stride`-th interval with a flagged host is
    kept. Its co-simulation holds the faults `teacher_faults` names: "true", the schedule's
    (training seeds: truth is a label here, as the classifier's are), or "estimated", what
    the planner itself would assume at test time (the flagger's classes and the observed
    levels, `pregan.simulation.cosim.estimate_faults`; needs a flagger reporting classes).
    """
    if not seeds:
        raise ValueError("collect_points: no training seeds given (data.train_seeds)")
    if stride <= 0:
        raise ValueError(f"collect_points: stride must be positive, got {stride}")
    if teacher_faults not in TEACHER_FAULTS:
        raise ValueError(
            f"conf/migrator/gan.yaml: teacher_faults must be one of {TEACHER_FAULTS}, "
            f"got {teacher_faults!r}"
        )
    points: list[DecisionPoint] = []
    for seed in seeds:
        sim = make_sim(int(seed))
        seen: list[tuple[Observation, np.ndarray, Any]] = []
        while not sim.done:
            obs = sim.observe()
            proposal = scheduler.place(obs)
            if obs.t >= max(min_t, 1):
                seen.append((obs, proposal, sim.fork()))
            sim.step(proposal)
        if not seen:
            continue
        flags, embs, classes = _judge(flagger, [o for o, _, _ in seen])
        for i in np.flatnonzero(flags.any(axis=1))[::stride]:
            obs, proposal, fork = seen[i]
            if teacher_faults == "true":
                estimate = fork.true_faults()
            else:
                estimate = estimate_faults(obs, np.where(flags[i], classes[i], 0))
            points.append(
                decision_point(obs, proposal, flags[i], embs[i], fork.cosimulator(estimate))
            )
    return points


def _judge(
    flagger: Flagger, observations: list[Observation]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flags (N, H), embeddings (N, H, e) and classes (N, H) (1 where the flagger reports
    none) of consecutive observations of one episode, in one batch where the flagger can."""
    if (flag_many := getattr(flagger, "flag_many", None)) is not None:
        flags, embs = flag_many(observations)
        out = getattr(flagger, "last_many", None)
        classes = out.fault_class if out is not None else np.ones(flags.shape, np.int64)
        return flags, embs, np.asarray(classes, dtype=np.int64)
    flags_l, embs_l, classes_l = [], [], []
    for obs in observations:
        f, e = flagger(obs)
        out = getattr(flagger, "last", None)
        flags_l.append(f)
        embs_l.append(e)
        classes_l.append(out.fault_class if out is not None else np.ones(f.shape, np.int64))
    return np.stack(flags_l), np.stack(embs_l), np.stack(classes_l).astype(np.int64)


def collate_points(points: list[DecisionPoint]) -> list[DecisionPoint]:
    """Decision points carry co-simulation snapshots: batch them as a plain list."""
    return points
