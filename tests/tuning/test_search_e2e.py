"""The documented command on the real config: 2 PreGAN trials on the tiny study."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState


@pytest.mark.slow
def test_search_command_trains_real_trials(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/optuna.db"
    best = tmp_path / "best" / "pregan.yaml"
    command = [
        sys.executable,
        "-m",
        "pregan.tuning.search",
        "hparams_search=pregan_optuna",
        "debug=tiny",
        "optuna.n_trials=2",
        f"optuna.storage={storage}",
        f"optuna.best_config={best}",
        f"paths.log_dir={tmp_path}/logs",
        f"data.traces_dir={tmp_path}/traces",
    ]
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    study = optuna.load_study(study_name="pregan", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    # the pruning callback reached the classifier's Trainer and reported val/f1 per epoch
    assert all(t.intermediate_values for t in study.trials)
    for trial in study.trials:
        assert (Path(trial.user_attrs["output_dir"]) / "metrics.json").is_file()
    assert "+hparams_search/best=pregan" in best.read_text()
    assert "Best trial" in done.stdout
