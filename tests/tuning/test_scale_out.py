"""Optuna's own scale-out: several worker processes share one study through its RDB storage.

Each worker's first trial waits at a file barrier until the other worker is inside a trial
too, so both workers run trials whatever the machine's load (no sleep decides it); a worker
that never arrives fails the test after a minute instead of hanging it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

WORKER = """
import json, sys, time
from pathlib import Path
from hydra import compose, initialize_config_dir
from pregan.tuning.search import run_search

conf, overrides = sys.argv[1], json.loads(sys.argv[2])
barrier, worker = Path(sys.argv[3]), sys.argv[4]
waited = False

def objective(cfg):
    global waited
    if not waited:  # first trial: wait until every worker is inside one
        (barrier / f"worker{worker}").touch()
        deadline = time.monotonic() + 60.0
        while len(list(barrier.glob("worker*"))) < 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker {worker}: the other worker never started a trial")
            time.sleep(0.01)
        waited = True
    return {"val/f1": -abs(cfg.model.lr - 0.01) - abs(cfg.model.window - 5)}

def trial_config(o):
    return compose(config_name="train", overrides=o)

with initialize_config_dir(config_dir=conf, version_base="1.3"):
    run_search(trial_config(overrides), overrides, trial_config, run_fn=objective)
"""


def test_two_workers_share_one_study(
    search_kit: dict[str, Any], toy_conf: Path, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path}/shared.db"
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    n_trials = 6
    procs = []
    for worker in (0, 1):
        overrides = [
            "hparams_search=pregan_optuna",
            *search_kit["space"],
            f"optuna.storage={storage}",
            "optuna.study_name=shared",
            f"optuna.n_trials={n_trials}",
            f"optuna.worker={worker}",
            "optuna.mlflow_experiment=null",
            f"paths.output_dir={tmp_path}/worker{worker}",
        ]
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    WORKER,
                    str(toy_conf),
                    json.dumps(overrides),
                    str(barrier),
                    str(worker),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
            )
        )
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    study = optuna.load_study(study_name="shared", storage=storage)
    trials = study.get_trials()
    numbers = sorted(t.number for t in trials)
    # MaxTrialsCallback is checked after each trial, so a worker may start one extra.
    assert n_trials <= len(trials) <= n_trials + 1
    assert numbers == list(range(len(trials)))  # distinct, none lost
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert {t.user_attrs["worker"] for t in trials} == {0, 1}
    dirs = {t.user_attrs["output_dir"] for t in trials}
    assert len(dirs) == len(trials)
